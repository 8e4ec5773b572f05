using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using PeerCompute.Net.Dns;

namespace PeerCompute.Net.Tests.Dns;

/// <summary>The authoritative server on real loopback sockets: UDP, TCP framing, the limits; and dig, when installed, as an independent client.</summary>
public class AuthoritativeDnsServerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private static async Task<AuthoritativeDnsServer> StartAsync(AuthoritativeDnsOptions? options = null, DnsTxtRecords? txt = null)
    {
        var server = new AuthoritativeDnsServer(DnsResponderTests.Zone(txt), options);
        server.Start(IPAddress.Loopback, 0);
        await Task.CompletedTask;
        return server;
    }

    private static async Task<DnsMessage> UdpAsync(IPEndPoint server, byte[] query)
    {
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        udp.Connect(server);
        await udp.SendAsync(query);
        using var cts = new CancellationTokenSource(Wait);
        var result = await udp.ReceiveAsync(cts.Token);
        return DnsMessage.Parse(result.Buffer);
    }

    private static async Task SendFramedAsync(NetworkStream stream, byte[] query)
    {
        byte[] framed = new byte[query.Length + 2];
        BinaryPrimitives.WriteUInt16BigEndian(framed, (ushort)query.Length);
        query.CopyTo(framed, 2);
        await stream.WriteAsync(framed);
    }

    /// <summary>One framed response, or null when the server closed the connection.</summary>
    private static async Task<DnsMessage?> ReadFramedAsync(NetworkStream stream)
    {
        using var cts = new CancellationTokenSource(Wait);
        byte[] prefix = new byte[2];
        try
        {
            await stream.ReadExactlyAsync(prefix, cts.Token);
        }
        catch (EndOfStreamException)
        {
            return null;
        }
        catch (IOException)
        {
            return null;
        }
        byte[] body = new byte[BinaryPrimitives.ReadUInt16BigEndian(prefix)];
        await stream.ReadExactlyAsync(body, cts.Token);
        return DnsMessage.Parse(body);
    }

    [Test]
    public async Task Udp_and_tcp_answer_on_one_port()
    {
        var txt = new DnsTxtRecords();
        for (int i = 0; i < DnsTxtRecords.MaxValuesPerName; i++)
            txt.Add("_acme-challenge.example.org", new string((char)('a' + i), 200));
        await using var server = await StartAsync(txt: txt);

        var a = await UdpAsync(server.EndPoint!, DnsResponderTests.Query("web.example.org", DnsRecordType.A, id: 42));
        await Assert.That(a.Id).IsEqualTo((ushort)42);
        await Assert.That(new IPAddress(a.Answers.Single().Data.Span)).IsEqualTo(IPAddress.Parse("192.0.2.10"));

        // Too big for UDP: truncated there, whole over TCP; two queries pipelined on one connection.
        var truncated = await UdpAsync(server.EndPoint!, DnsResponderTests.Query("_acme-challenge.example.org", DnsRecordType.Txt));
        await Assert.That((truncated.Flags & DnsMessage.TruncatedFlag) != 0).IsTrue();
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(server.EndPoint!);
        var stream = tcp.GetStream();
        await SendFramedAsync(stream, DnsResponderTests.Query("_acme-challenge.example.org", DnsRecordType.Txt, id: 1));
        await SendFramedAsync(stream, DnsResponderTests.Query("other.example.net", DnsRecordType.A, id: 2));
        var first = await ReadFramedAsync(stream);
        var second = await ReadFramedAsync(stream);
        await Assert.That(first!.Id).IsEqualTo((ushort)1);
        await Assert.That(first.Answers.Count).IsEqualTo(DnsTxtRecords.MaxValuesPerName);
        await Assert.That(second!.Id).IsEqualTo((ushort)2);
        await Assert.That((DnsResponseCode)second.ResponseCode).IsEqualTo(DnsResponseCode.Refused);
    }

    [Test]
    public async Task A_source_over_its_rate_is_dropped()
    {
        // A bucket of 3 that refills once an hour: the fourth query is over the rate.
        await using var server = await StartAsync(new AuthoritativeDnsOptions { Burst = 3, QueriesPerSecond = 1.0 / 3600 });
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(server.EndPoint!);
        var stream = tcp.GetStream();
        for (int i = 0; i < 3; i++)
        {
            await SendFramedAsync(stream, DnsResponderTests.Query("web.example.org", DnsRecordType.A, id: (ushort)i));
            await Assert.That((await ReadFramedAsync(stream))!.Id).IsEqualTo((ushort)i);
        }
        await SendFramedAsync(stream, DnsResponderTests.Query("web.example.org", DnsRecordType.A));
        await Assert.That(await ReadFramedAsync(stream)).IsNull();
        await Assert.That(server.RateLimited).IsEqualTo(1);

        // Over UDP the query is dropped without an answer.
        using var udp = new UdpClient(AddressFamily.InterNetwork);
        await udp.SendAsync(DnsResponderTests.Query("web.example.org", DnsRecordType.A), server.EndPoint!);
        await Eventually.WaitAsync(() => Task.FromResult(server.RateLimited == 2), "the UDP query counted as rate-limited");
        await Assert.That(udp.Available).IsEqualTo(0);
    }

    [Test]
    public async Task Tcp_connections_are_bounded_per_source_and_closed_when_idle()
    {
        await using var server = await StartAsync(new AuthoritativeDnsOptions { MaxTcpConnectionsPerSource = 2, TcpIdleTimeout = TimeSpan.FromMilliseconds(300) });
        using var one = new TcpClient(AddressFamily.InterNetwork);
        using var two = new TcpClient(AddressFamily.InterNetwork);
        await one.ConnectAsync(server.EndPoint!);
        await two.ConnectAsync(server.EndPoint!);
        await Eventually.WaitAsync(() => Task.FromResult(server.TcpConnections == 2), "two connections accepted");
        using var three = new TcpClient(AddressFamily.InterNetwork);
        await three.ConnectAsync(server.EndPoint!);
        await Assert.That(await ReadFramedAsync(three.GetStream())).IsNull();
        await Assert.That(server.TcpRefused).IsEqualTo(1);

        // The two silent connections are closed by the idle timeout, which frees their places.
        await Assert.That(await ReadFramedAsync(one.GetStream())).IsNull();
        await Assert.That(await ReadFramedAsync(two.GetStream())).IsNull();
        await Eventually.WaitAsync(() => Task.FromResult(server.TcpConnections == 0), "idle connections released");
        using var four = new TcpClient(AddressFamily.InterNetwork);
        await four.ConnectAsync(server.EndPoint!);
        await SendFramedAsync(four.GetStream(), DnsResponderTests.Query("example.org", DnsRecordType.Soa, id: 9));
        await Assert.That((await ReadFramedAsync(four.GetStream()))!.Answers.Single().Type).IsEqualTo(DnsRecordType.Soa);
    }

    [Test]
    public async Task A_query_too_long_for_tcp_closes_the_connection()
    {
        await using var server = await StartAsync();
        using var tcp = new TcpClient(AddressFamily.InterNetwork);
        await tcp.ConnectAsync(server.EndPoint!);
        var stream = tcp.GetStream();
        await stream.WriteAsync(new byte[] { 0xFF, 0xFF });
        await Assert.That(await ReadFramedAsync(stream)).IsNull();
    }

    private static async Task<string> DigAsync(IPEndPoint server, params string[] args)
    {
        var result = await TestProcess.RunAsync("dig", ["@" + server.Address, "-p", server.Port.ToString(), "+tries=1", "+time=5", .. args]);
        return result.StandardOutput;
    }

    [Test]
    public async Task Dig_sees_an_authoritative_server_that_does_not_recurse()
    {
        var txt = new DnsTxtRecords();
        txt.Add("_acme-challenge.example.org", "token-one");
        txt.Add("_acme-challenge.example.org", "token-two");
        await using var server = await StartAsync(txt: txt);

        string a = await DigAsync(server.EndPoint!, "web-x.example.org", "A");
        await Assert.That(a).Contains("status: NOERROR");
        await Assert.That(a).Contains("flags: qr aa rd;");
        await Assert.That(a).Contains("recursion requested but not available");
        await Assert.That(a).Contains("192.0.2.10");

        string challenge = await DigAsync(server.EndPoint!, "+short", "_acme-challenge.example.org", "TXT");
        await Assert.That(challenge).Contains("\"token-one\"");
        await Assert.That(challenge).Contains("\"token-two\"");

        string outside = await DigAsync(server.EndPoint!, "example.com", "A");
        await Assert.That(outside).Contains("status: REFUSED");

        string missing = await DigAsync(server.EndPoint!, "_nothing.example.org", "TXT");
        await Assert.That(missing).Contains("status: NXDOMAIN");
        await Assert.That(missing).Contains("SOA");

        string overTcp = await DigAsync(server.EndPoint!, "+tcp", "example.org", "NS");
        await Assert.That(overTcp).Contains("ns.example.org.");
        await Assert.That(overTcp).Contains("status: NOERROR");

        string version = await DigAsync(server.EndPoint!, "+edns=1", "+noednsneg", "example.org", "A");
        await Assert.That(version).Contains("BADVERS");
    }
}
