using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace PeerCompute.Testing;

/// <summary>Ports for programs that need them on the command line (the gateway has no "pick one" 0).</summary>
/// <remarks>
/// A port the kernel hands out for a bind to 0 comes from its ephemeral range, the same range every outgoing
/// connection on the machine draws its local port from: between the check and the program's own bind, a connection of
/// another test took one (CI failed on "address already in use"). So ports come from just below that range, where only
/// an explicit bind can land, chosen at random (test assemblies run side by side) and never twice in one process.
/// </remarks>
public static class FreePorts
{
    private const int Span = 12000;
    private static readonly HashSet<int> Given = [];
    private static readonly (int Low, int High) Ephemeral = ReadEphemeralRange();

    /// <summary>The range ports are chosen from: below the ephemeral one, above the well-known and common ones.</summary>
    public static (int First, int Last) Range { get; } = Ephemeral.Low - 1024 >= 2000
        ? (Math.Max(1024, Ephemeral.Low - Span), Ephemeral.Low - 1)
        : (Ephemeral.High + 1, Math.Min(65535, Ephemeral.High + Span)); // nothing left below it: above it

    /// <summary>A port that is free on 127.0.0.1 for TCP and UDP and outside the kernel's ephemeral range.</summary>
    public static int One() => Many(1)[0];

    /// <summary>Distinct ports, each free on 127.0.0.1 for TCP and UDP and outside the kernel's ephemeral range.</summary>
    public static int[] Many(int count)
    {
        var ports = new List<int>(count);
        lock (Given)
        {
            int tries = 0;
            while (ports.Count < count)
            {
                if (++tries > 50 * Span)
                    throw new InvalidOperationException($"no {count} free ports in {Range.First}-{Range.Last}");
                int port = Random.Shared.Next(Range.First, Range.Last + 1);
                if (Given.Contains(port) || !IsFree(port))
                    continue;
                Given.Add(port);
                ports.Add(port);
            }
            if (Given.Count > Span / 2)
                Given.Clear();
        }
        return [.. ports];
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var tcp = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            tcp.Bind(new IPEndPoint(IPAddress.Any, port));
            tcp.Listen();
            using var udp = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            udp.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int Low, int High) ReadEphemeralRange()
    {
        try
        {
            string[] parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return (32768, 60999);
        }
    }
}
