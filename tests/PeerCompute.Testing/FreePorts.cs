using System.Net;
using System.Net.Sockets;

namespace PeerCompute.Testing;

/// <summary>Ports for programs that need them on the command line (the gateway has no "pick one" 0).</summary>
public static class FreePorts
{
    /// <summary>A port the kernel just handed out on 127.0.0.1 and that is free again.</summary>
    public static int One() => Many(1)[0];

    /// <summary>
    /// Distinct ports the kernel just handed out on 127.0.0.1 and that are free again: another process could take
    /// one before the program binds it, which the ephemeral range makes unlikely.
    /// </summary>
    public static int[] Many(int count)
    {
        var listeners = new List<TcpListener>();
        try
        {
            for (int i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners)
                listener.Stop();
        }
    }
}
