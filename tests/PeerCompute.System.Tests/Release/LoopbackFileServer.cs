using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// A tiny HTTP/1.x server on 127.0.0.1 (ephemeral port) serving the files of one folder, standing in for a release
/// page: GET /NAME answers the file NAME, anything else 404. Remembers which paths were asked for. HTTPS by
/// default, with a self-signed certificate for 127.0.0.1 that <see cref="CaFile"/> holds (curl trusts it through
/// CURL_CA_BUNDLE, which <see cref="ReleaseScripts.InstallAsync"/> sets); plain http only to show it refused.
/// </summary>
internal sealed class LoopbackFileServer : IAsyncDisposable
{
    private const int MaxRequestHeaderBytes = 16 * 1024;
    private static readonly Lazy<(X509Certificate2 Certificate, string CaFile)> _certificate = new(CreateCertificate);
    private readonly bool _tls;
    private readonly string _folder;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly ConcurrentQueue<string> _requested = new();

    public LoopbackFileServer(string folder, bool tls = true)
    {
        _tls = tls;
        _folder = folder;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptAsync(_stop.Token);
    }

    /// <summary>e.g. https://127.0.0.1:41234 (no trailing slash).</summary>
    public string BaseUrl => $"{(_tls ? "https" : "http")}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>The PEM certificate the HTTPS servers present (one for the whole test session).</summary>
    public static string CaFile => _certificate.Value.CaFile;

    /// <summary>The request paths seen so far, in order.</summary>
    public IReadOnlyList<string> Requested => [.. _requested];

    private async Task AcceptAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(cancellationToken);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = ServeAsync(client, cancellationToken);
        }
    }

    private async Task ServeAsync(TcpClient client, CancellationToken cancellationToken)
    {
        using var _ = client;
        try
        {
            Stream stream = client.GetStream();
            if (_tls)
            {
                var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                stream = tls;
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = _certificate.Value.Certificate }, cancellationToken);
            }
            await using var __ = stream;
            string? requestLine = await ReadRequestLineAsync(stream, cancellationToken);
            string[] parts = requestLine?.Split(' ') ?? [];
            if (parts.Length < 3 || parts[0] is not ("GET" or "HEAD"))
            {
                await WriteAsync(stream, "400 Bad Request", [], cancellationToken);
                return;
            }
            string path = Uri.UnescapeDataString(parts[1].Split('?')[0]);
            _requested.Enqueue(path);
            // Flat folder: a name, never a path out of it.
            string name = path.TrimStart('/');
            string file = Path.Combine(_folder, name);
            if (name.Length == 0 || name.Contains('/') || name.Contains("..", StringComparison.Ordinal) || !File.Exists(file))
            {
                await WriteAsync(stream, "404 Not Found", Encoding.ASCII.GetBytes("not found\n"), cancellationToken);
                return;
            }
            byte[] body = parts[0] == "HEAD" ? [] : await File.ReadAllBytesAsync(file, cancellationToken);
            await WriteAsync(stream, "200 OK", body, cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or global::System.Security.Authentication.AuthenticationException)
        {
            // A client that went away, or refused the certificate.
        }
    }

    /// <summary>Reads the request head (up to the blank line) and returns its first line.</summary>
    private static async Task<string?> ReadRequestLineAsync(Stream stream, CancellationToken cancellationToken)
    {
        var head = new List<byte>(1024);
        var buffer = new byte[1024];
        while (head.Count < MaxRequestHeaderBytes)
        {
            int read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
                return null;
            head.AddRange(buffer.AsSpan(0, read));
            string text = Encoding.ASCII.GetString(head.ToArray());
            int end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
                return text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
        }
        return null;
    }

    private static async Task WriteAsync(Stream stream, string status, byte[] body, CancellationToken cancellationToken)
    {
        string head = $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        await stream.WriteAsync(body, cancellationToken);
        await stream.FlushAsync(cancellationToken);
    }

    /// <summary>A self-signed ECDSA P-256 certificate for IP 127.0.0.1, and its PEM in a file of the session.</summary>
    private static (X509Certificate2, string) CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var created = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Through PKCS#12 so the private key is usable by the TLS stack on every platform.
        var certificate = X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
        string caFile = Path.Combine(ReleaseScripts.NewFolder("tls"), "loopback-ca.pem");
        File.WriteAllText(caFile, created.ExportCertificatePem());
        return (certificate, caFile);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}
