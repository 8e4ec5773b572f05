using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace PeerCompute.Tunnel.Tests.Support;

internal sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body);

/// <summary>What came back on one connection: the responses in order, and whether the gateway then closed it.</summary>
internal sealed record RawExchange(IReadOnlyList<RawResponse> Responses, bool Closed)
{
    public int FirstStatus => Responses.Count > 0 ? Responses[0].Status : 0;
}

/// <summary>
/// Writes exact bytes to the gateway over TLS 1.3 (HTTP/1.1 by ALPN) and parses what comes back, so a test can send
/// requests no HTTP client library would produce: conflicting framing headers, obfuscated codings, odd Host values.
/// </summary>
internal static class RawHttps
{
    public static async Task<RawExchange> SendAsync(GatewayProcess gateway, string sniHost, string request, int maxResponses = 4)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, gateway.HttpsPort));
        await using var ssl = new SslStream(new NetworkStream(socket, ownsSocket: false));
        await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = sniHost,
            CertificateChainPolicy = GatewayHttp.TrustPolicy(gateway.Pki),
            ApplicationProtocols = [SslApplicationProtocol.Http11],
        });
        // Written alongside the reading: the gateway may answer and close before an oversized request is all sent.
        var writing = WriteIgnoringResetAsync(ssl, Encoding.Latin1.GetBytes(request));

        var reader = new ResponseReader(ssl);
        var responses = new List<RawResponse>();
        using var guard = new CancellationTokenSource(TestProvider.Guard);
        while (responses.Count < maxResponses)
        {
            var response = await reader.ReadAsync(guard.Token);
            if (response is null)
            {
                await writing;
                return new RawExchange(responses, Closed: true);
            }
            responses.Add(response);
        }
        await writing;
        return new RawExchange(responses, Closed: false);
    }

    private static async Task WriteIgnoringResetAsync(Stream stream, byte[] bytes)
    {
        try
        {
            await stream.WriteAsync(bytes);
            await stream.FlushAsync();
        }
        catch (IOException)
        {
            // Refused mid-request; the reader sees what the gateway answered.
        }
    }

    /// <summary>A minimal HTTP/1.1 response parser: status line, headers, then a Content-Length or chunked body.</summary>
    private sealed class ResponseReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        public async Task<RawResponse?> ReadAsync(CancellationToken cancellationToken)
        {
            string? statusLine = await ReadLineAsync(cancellationToken);
            if (statusLine is null)
                return null;
            int status = int.Parse(statusLine.Split(' ')[1]);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            while (await ReadLineAsync(cancellationToken) is { Length: > 0 } line)
            {
                int colon = line.IndexOf(':');
                headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            var body = new StringBuilder();
            if (headers.TryGetValue("Transfer-Encoding", out string? coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
            {
                while (true)
                {
                    int size = Convert.ToInt32((await ReadLineAsync(cancellationToken))!.Split(';')[0], 16);
                    if (size == 0)
                    {
                        while (await ReadLineAsync(cancellationToken) is { Length: > 0 })
                        {
                        }
                        break;
                    }
                    body.Append(await ReadExactlyAsync(size, cancellationToken));
                    await ReadLineAsync(cancellationToken);
                }
            }
            else if (headers.TryGetValue("Content-Length", out string? length))
            {
                body.Append(await ReadExactlyAsync(int.Parse(length), cancellationToken));
            }
            return new RawResponse(status, headers, body.ToString());
        }

        private async Task<string?> ReadLineAsync(CancellationToken cancellationToken)
        {
            while (true)
            {
                int newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
                if (newline >= 0)
                {
                    string line = Encoding.Latin1.GetString(_buffer, _start, newline - _start).TrimEnd('\r');
                    _start = newline + 1;
                    return line;
                }
                if (!await FillAsync(cancellationToken))
                    return null;
            }
        }

        private async Task<string> ReadExactlyAsync(int count, CancellationToken cancellationToken)
        {
            var text = new StringBuilder();
            while (count > 0)
            {
                if (_start == _end && !await FillAsync(cancellationToken))
                    throw new EndOfStreamException("The connection closed inside a response body.");
                int n = Math.Min(count, _end - _start);
                text.Append(Encoding.Latin1.GetString(_buffer, _start, n));
                _start += n;
                count -= n;
            }
            return text.ToString();
        }

        private async Task<bool> FillAsync(CancellationToken cancellationToken)
        {
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            int read;
            try
            {
                read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
            }
            catch (IOException)
            {
                return false; // reset by the gateway: closed
            }
            _end += read;
            return read > 0;
        }
    }
}
