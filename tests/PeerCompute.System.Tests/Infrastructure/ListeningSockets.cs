using System.Globalization;
using System.Net;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>The TCP sockets a process listens on, read from /proc (its socket inodes matched in /proc/net/tcp and tcp6).</summary>
internal static class ListeningSockets
{
    public static IReadOnlyList<IPEndPoint> Of(int pid)
    {
        var inodes = new HashSet<string>(StringComparer.Ordinal);
        foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                inodes.Add(target[8..^1]);
        }
        var result = new List<IPEndPoint>();
        foreach (string table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            foreach (string line in File.ReadLines(table).Skip(1))
            {
                // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[3] == "0A" && inodes.Contains(fields[9]))
                    result.Add(Parse(fields[1]));
            }
        return result;
    }

    /// <summary>/proc/net's hex address: the IPv4 address as one little-endian word, IPv6 as four; then the port.</summary>
    private static IPEndPoint Parse(string text)
    {
        string[] parts = text.Split(':');
        int port = int.Parse(parts[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        byte[] bytes = Convert.FromHexString(parts[0]);
        for (int word = 0; word < bytes.Length; word += 4)
            Array.Reverse(bytes, word, 4);
        return new IPEndPoint(new IPAddress(bytes), port);
    }
}
