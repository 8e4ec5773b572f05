using System.Net.Security;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Tunnel.Tests.Gateway;

/// <summary>
/// The gateway's early look at a ClientHello, which decides whether a connection is an ACME TLS-ALPN-01 validation
/// (the challenge certificate) or a visitor (the real one): read from hellos .NET's own TLS client sends.
/// </summary>
public class TlsClientHelloTests
{
    [Test]
    public async Task A_browser_like_hello_is_a_visitor_and_gives_its_name_and_protocols()
    {
        byte[] bytes = await CaptureAsync("www.example.org", ["h2", "http/1.1"]);

        var read = TlsClientHello.TryRead(bytes, out var hello);

        await Assert.That(read).IsEqualTo(ClientHelloRead.Parsed);
        await Assert.That(hello!.ServerName).IsEqualTo("www.example.org");
        await Assert.That(hello.Protocols).IsEquivalentTo(new[] { "h2", "http/1.1" });
        await Assert.That(hello.OffersOnly("acme-tls/1")).IsFalse();
    }

    [Test]
    public async Task Only_a_hello_offering_acme_tls_alone_is_a_validation()
    {
        TlsClientHello.TryRead(await CaptureAsync("www.example.org", ["acme-tls/1"]), out var validation);
        TlsClientHello.TryRead(await CaptureAsync("www.example.org", ["acme-tls/1", "http/1.1"]), out var mixed);
        TlsClientHello.TryRead(await CaptureAsync("www.example.org", null), out var none);

        await Assert.That(validation!.OffersOnly("acme-tls/1")).IsTrue();
        await Assert.That(validation.ServerName).IsEqualTo("www.example.org");
        await Assert.That(mixed!.OffersOnly("acme-tls/1")).IsFalse();
        await Assert.That(none!.Protocols).IsEmpty();
        await Assert.That(none.OffersOnly("acme-tls/1")).IsFalse();
    }

    [Test]
    public async Task Every_prefix_of_a_hello_needs_more_and_other_protocols_are_malformed()
    {
        byte[] bytes = await CaptureAsync("www.example.org", ["acme-tls/1"]);
        var prefixes = new List<ClientHelloRead>();
        for (int length = 0; length < bytes.Length; length++)
            prefixes.Add(TlsClientHello.TryRead(bytes.AsSpan(0, length), out _));

        await Assert.That(prefixes.Skip(1).All(r => r == ClientHelloRead.NeedMore)).IsTrue();
        await Assert.That(TlsClientHello.TryRead("GET / HTTP/1.1\r\n\r\n"u8, out _)).IsEqualTo(ClientHelloRead.Malformed);
        await Assert.That(TlsClientHello.TryRead([22, 3, 1, 0xFF, 0xFF], out _)).IsEqualTo(ClientHelloRead.Malformed).Because("a record over 16 KiB");
    }

    [Test]
    public async Task Corrupted_hellos_are_refused_or_read_never_thrown()
    {
        byte[] original = await CaptureAsync("www.example.org", ["acme-tls/1"]);
        int parsed = 0, refused = 0;
        // Every byte set to values that break lengths (0, 1, 0x7F, 0xFF), one at a time.
        for (int i = 0; i < original.Length; i++)
        {
            foreach (byte value in (byte[])[0, 1, 0x7F, 0xFF])
            {
                byte[] bytes = (byte[])original.Clone();
                bytes[i] = value;
                var read = TlsClientHello.TryRead(bytes, out var hello);
                if (read == ClientHelloRead.Parsed)
                {
                    parsed++;
                    await Assert.That(hello).IsNotNull();
                }
                else
                {
                    refused++;
                }
            }
        }
        await Assert.That(parsed).IsGreaterThan(0);
        await Assert.That(refused).IsGreaterThan(0);
    }

    /// <summary>The first record .NET's TLS client sends for <paramref name="serverName"/> offering <paramref name="protocols"/>.</summary>
    private static async Task<byte[]> CaptureAsync(string serverName, string[]? protocols)
    {
        var wire = new FirstWrite();
        await using var ssl = new SslStream(wire);
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = serverName,
            ApplicationProtocols = protocols?.Select(p => new SslApplicationProtocol(p)).ToList(),
        };
        var handshake = ssl.AuthenticateAsClientAsync(options);
        byte[] hello = await wire.Written.Task;
        wire.Close();
        try
        {
            await handshake;
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or ObjectDisposedException)
        {
            // The handshake ends here: only its first flight was wanted.
        }
        return hello;
    }

    /// <summary>A stream that keeps the first write and answers reads with the end of the stream once closed.</summary>
    private sealed class FirstWrite : Stream
    {
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<byte[]> Written { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Close()
        {
            _closed.TrySetResult();
            base.Close();
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await _closed.Task.WaitAsync(cancellationToken);
            return 0;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Written.TrySetResult(buffer.ToArray());
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count).GetAwaiter().GetResult();
        public override void Write(byte[] buffer, int offset, int count) => Written.TrySetResult(buffer.AsSpan(offset, count).ToArray());
        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
