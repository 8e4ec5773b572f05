using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace PeerCompute.Net.Dns;

/// <summary>
/// Asks one resolver (a recursive one, or the zone's server) for the CNAME or TXT records of a name over UDP, with
/// recursion desired; for the gateway's check that a custom domain points at the deployment it is claimed for.
/// </summary>
public static class DnsLookup
{
    /// <summary>The first <c>nameserver</c> of <c>/etc/resolv.conf</c> on port 53; loopback when there is none.</summary>
    public static IPEndPoint SystemResolver()
    {
        try
        {
            foreach (string line in File.ReadLines("/etc/resolv.conf"))
            {
                string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[0] == "nameserver" && IPAddress.TryParse(parts[1], out var address))
                    return new IPEndPoint(address, 53);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return new IPEndPoint(IPAddress.Loopback, 53);
    }

    /// <summary>The CNAME targets of <paramref name="name"/> (lower case, no trailing dot); empty when it has none.</summary>
    public static async Task<IReadOnlyList<string>> CnameAsync(IPEndPoint resolver, string name, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var answer = await QueryAsync(resolver, name, DnsRecordType.Cname, timeout, cancellationToken).ConfigureAwait(false);
        return [.. answer.Answers.Where(r => r.Type == DnsRecordType.Cname && Same(r.Name, name) && r.Target is not null).Select(r => Normalize(r.Target!))];
    }

    /// <summary>The TXT strings of <paramref name="name"/> (each record's strings joined).</summary>
    public static async Task<IReadOnlyList<string>> TxtAsync(IPEndPoint resolver, string name, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var answer = await QueryAsync(resolver, name, DnsRecordType.Txt, timeout, cancellationToken).ConfigureAwait(false);
        return [.. answer.Answers.Where(r => r.Type == DnsRecordType.Txt && Same(r.Name, name)).Select(r => string.Concat(r.Strings))];
    }

    private static string Normalize(string name) => name.TrimEnd('.').ToLowerInvariant();

    private static bool Same(string a, string b) => string.Equals(Normalize(a), Normalize(b), StringComparison.Ordinal);

    private static async Task<DnsMessage> QueryAsync(IPEndPoint resolver, string name, DnsRecordType type, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var writer = new DnsMessageWriter();
        writer.AddQuestion(name, type, DnsClass.In);
        ushort id = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
        byte[] query = writer.ToArray(id, DnsMessage.RecursionDesiredFlag);
        using var socket = new UdpClient(resolver.AddressFamily);
        socket.Connect(resolver);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await socket.SendAsync(query, deadline.Token).ConfigureAwait(false);
            while (true)
            {
                var received = await socket.ReceiveAsync(deadline.Token).ConfigureAwait(false);
                // Anything but the answer to this query (another id, a malformed packet) is ignored: spoofing needs the id.
                if (!DnsMessage.TryParse(received.Buffer, out var message, out _) || message!.Id != id || !message.IsResponse)
                    continue;
                if (message.ResponseCode is not ((int)DnsResponseCode.NoError or (int)DnsResponseCode.NameError))
                    throw new IOException($"the resolver {resolver} answered {(DnsResponseCode)message.ResponseCode} for {name}");
                return message;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"the resolver {resolver} did not answer for {name} within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException e)
        {
            throw new IOException($"the resolver {resolver}: {e.Message}");
        }
    }
}
