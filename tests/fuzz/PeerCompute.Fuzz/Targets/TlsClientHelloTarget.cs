using System.Text;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// The gateway's early look at a ClientHello (<see cref="TlsClientHello.TryRead"/>, which decides whether a connection is
/// an ACME TLS-ALPN-01 validation): never throws; NeedMore only for a prefix shorter than the record it announces; a
/// parsed hello holds only names and protocols that were in the input. Input: the first bytes a client sends.
/// </summary>
public sealed class TlsClientHelloTarget : FuzzTarget
{
    public override string Name => "tls-client-hello";
    public override string Description => "TlsClientHello.TryRead: SNI and ALPN from the first TLS record, before the handshake";

    public override void Run(ReadOnlySpan<byte> input)
    {
        var read = TlsClientHello.TryRead(input, out var hello);
        Check((read == ClientHelloRead.Parsed) == hello is not null, "a hello without Parsed, or Parsed without a hello");
        if (read == ClientHelloRead.NeedMore)
            Check(input.Length < 5 || input.Length < 5 + ((input[3] << 8) | input[4]), "NeedMore with the whole record present");
        if (hello is null)
            return;
        string text = Encoding.Latin1.GetString(input);
        if (hello.ServerName is { } name)
            Check(name.Length > 0 && text.Contains(name, StringComparison.Ordinal), "a server name that is not in the input");
        foreach (string protocol in hello.Protocols)
            Check(protocol.Length > 0 && text.Contains(protocol, StringComparison.Ordinal), "a protocol that is not in the input");
        // Reading is pure: the same bytes give the same hello.
        TlsClientHello.TryRead(input, out var again);
        Check(again is not null && again.ServerName == hello.ServerName && again.Protocols.SequenceEqual(hello.Protocols), "two reads differ");
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("browser", Build("www.example.org", ["h2", "http/1.1"]));
        yield return ("acme-validation", Build("www.example.org", ["acme-tls/1"]));
        yield return ("acme-and-h2", Build("www.example.org", ["acme-tls/1", "h2"]));
        yield return ("no-extensions", Build(null, null, extensions: false));
        yield return ("no-sni", Build(null, ["http/1.1"]));
        yield return ("cut", Build("www.example.org", ["h2"])[..40]);
        yield return ("http", "GET / HTTP/1.1\r\n\r\n"u8.ToArray());
    }

    /// <summary>A ClientHello record with fixed random and session bytes, two cipher suites, and the given SNI and ALPN.</summary>
    public static byte[] Build(string? serverName, IReadOnlyList<string>? protocols, bool extensions = true)
    {
        var body = new List<byte> { 0x03, 0x03 };
        body.AddRange(Enumerable.Range(0, 32).Select(i => (byte)i));
        body.Add(32);
        body.AddRange(Enumerable.Range(0, 32).Select(i => (byte)(255 - i)));
        body.AddRange([0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
        if (extensions)
        {
            var list = new List<byte>();
            if (serverName is not null)
            {
                byte[] name = Encoding.ASCII.GetBytes(serverName);
                Extension(list, 0, [.. U16(name.Length + 3), 0, .. U16(name.Length), .. name]);
            }
            if (protocols is not null)
            {
                var names = protocols.SelectMany(p => new[] { (byte)p.Length }.Concat(Encoding.ASCII.GetBytes(p))).ToArray();
                Extension(list, 16, [.. U16(names.Length), .. names]);
            }
            Extension(list, 43, [2, 3, 4]);
            body.AddRange(U16(list.Count));
            body.AddRange(list);
        }
        byte[] handshake = [1, (byte)(body.Count >> 16), (byte)(body.Count >> 8), (byte)body.Count, .. body];
        return [22, 3, 1, .. U16(handshake.Length), .. handshake];
    }

    private static void Extension(List<byte> list, int type, byte[] data)
    {
        list.AddRange(U16(type));
        list.AddRange(U16(data.Length));
        list.AddRange(data);
    }

    private static byte[] U16(int value) => [(byte)(value >> 8), (byte)value];
}
