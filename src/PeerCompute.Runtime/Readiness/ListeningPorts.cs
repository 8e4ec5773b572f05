using System.Globalization;
using System.Net;

namespace PeerCompute.Runtime.Readiness;

/// <summary>
/// The TCP ports a container's processes listen on, from the kernel's socket tables of its network namespace as the
/// host sees them (<c>/proc/&lt;pid&gt;/net/tcp</c> and <c>tcp6</c>). Used only to word a hint ("it listens on 8080").
/// </summary>
/// <remarks>
/// Safe to read: it is a read-only file the kernel writes; nothing of the container runs and no namespace is entered.
/// The PID comes from the engine a moment earlier and could in theory be reused by another process since: then the
/// hint names the wrong ports, and it goes only to the deployment's owner, in a message about their deployment.
/// Unreadable (another user's process, a hardened /proc) means no hint, never an error.
/// </remarks>
public static class ListeningPorts
{
    private const string ListenState = "0A";

    /// <summary>The ports, ascending, of the process's network namespace; empty when it cannot be read.</summary>
    public static IReadOnlyList<int> Read(int pid)
    {
        var ports = new SortedSet<int>();
        foreach (string table in new[] { "tcp", "tcp6" })
        {
            try
            {
                ports.UnionWith(Parse(File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/net/{table}")));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return [.. ports];
    }

    /// <summary>
    /// How many connections to <paramref name="port"/> the process's network namespace holds (established, or still
    /// closing with data to send); null when the tables cannot be read. An update waits for this to reach 0 before it
    /// stops a replaced container.
    /// </summary>
    public static int? CountConnections(int pid, int port)
    {
        int count = 0;
        bool read = false;
        foreach (string table in new[] { "tcp", "tcp6" })
        {
            try
            {
                count += CountConnections(File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/net/{table}"), port);
                read = true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }
        return read ? count : null;
    }

    /// <summary>The connections to a local <paramref name="port"/> in one table's text: established (01) or closing after the peer's FIN (08, CLOSE_WAIT: a response may still be written).</summary>
    public static int CountConnections(string table, int port)
    {
        int count = 0;
        foreach (string line in table.Split('\n').Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4 || fields[3] is not ("01" or "08"))
                continue;
            string local = fields[1];
            int colon = local.IndexOf(':');
            if (colon >= 0 && int.TryParse(local.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int localPort) && localPort == port)
                count++;
        }
        return count;
    }

    /// <summary>
    /// The listening ports of one table's text, leaving out sockets bound to a loopback address (nothing outside the
    /// container reaches those, like the engine's DNS resolver on 127.0.0.11).
    /// </summary>
    public static IReadOnlyList<int> Parse(string table)
    {
        var ports = new SortedSet<int>();
        foreach (string line in table.Split('\n').Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 4 || fields[3] != ListenState)
                continue;
            string local = fields[1];
            int colon = local.IndexOf(':');
            if (colon < 0 || !int.TryParse(local.AsSpan(colon + 1), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int port) || port == 0)
                continue;
            if (Address(local.AsSpan(0, colon)) is { } address && IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address))
                continue;
            ports.Add(port);
        }
        return [.. ports];
    }

    /// <summary>The kernel prints an address as 32-bit words in the host's byte order, each as 8 hex digits.</summary>
    private static IPAddress? Address(ReadOnlySpan<char> hex)
    {
        if (hex.Length is not (8 or 32))
            return null;
        var bytes = new byte[hex.Length / 2];
        for (int word = 0; word < bytes.Length / 4; word++)
        {
            if (!uint.TryParse(hex.Slice(word * 8, 8), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint value))
                return null;
            if (BitConverter.IsLittleEndian)
                value = System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(value);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(word * 4), value);
        }
        return new IPAddress(bytes);
    }
}
