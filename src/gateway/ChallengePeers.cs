using System.Buffers;
using System.Text;
using Microsoft.Extensions.Logging;

namespace PeerCompute.Gateway;

/// <summary>
/// The other gateways of a zone (--peer-gateway), asked for the key authorization of an HTTP-01 token this gateway does
/// not hold: with DNS listing several gateways, the CA may validate a custom domain's order at a gateway that did not
/// start it. A relayed request carries <see cref="RelayHeader"/>, and a request carrying it is never relayed again, so
/// gateways that name each other cannot loop. Key authorizations are public values (the CA reads them over plain
/// HTTP), so the peers are asked over plain HTTP; only an answer shaped like a key authorization for the asked token is
/// passed on.
/// </summary>
internal sealed class ChallengePeers : IDisposable
{
    /// <summary>Marks a request one gateway sends another; its answer comes from the asked gateway's own tokens only.</summary>
    public const string RelayHeader = "PeerCompute-Challenge-Relay";

    /// <summary>A key authorization is a token, a dot and a 43-character thumbprint; anything longer is not one.</summary>
    public const int MaxAnswerBytes = 512;

    /// <summary>Tokens are base64url (RFC 8555 §8.3: at least 128 bits of entropy); longer ones are refused unasked.</summary>
    public const int MaxTokenLength = 128;

    /// <summary>Base64url of a SHA-256 JWK thumbprint (RFC 7638).</summary>
    private const int ThumbprintLength = 43;

    private readonly IReadOnlyList<Uri> _peers;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _inFlight;
    private readonly ILogger _logger;

    public ChallengePeers(IReadOnlyList<Uri> peers, ChallengePeerOptions options, ILogger logger)
    {
        _peers = peers;
        _logger = logger;
        _inFlight = new SemaphoreSlim(options.MaxRelaysInFlight, options.MaxRelaysInFlight);
        _http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseProxy = false,
            UseCookies = false,
            ConnectTimeout = options.Timeout,
            MaxResponseHeadersLength = 16,
        })
        { Timeout = options.Timeout };
    }

    public IReadOnlyList<Uri> Peers => _peers;

    /// <summary>Whether <paramref name="token"/> could be an ACME token: non-empty base64url, at most <see cref="MaxTokenLength"/>.</summary>
    public static bool IsToken(ReadOnlySpan<char> token)
    {
        if (token.IsEmpty || token.Length > MaxTokenLength)
            return false;
        foreach (char c in token)
            if (!IsBase64Url(c))
                return false;
        return true;
    }

    /// <summary>Whether <paramref name="answer"/> is a key authorization for <paramref name="token"/>: <c>token.thumbprint</c>.</summary>
    public static bool IsKeyAuthorization(ReadOnlySpan<char> answer, ReadOnlySpan<char> token)
    {
        if (answer.Length != token.Length + 1 + ThumbprintLength || !answer.StartsWith(token, StringComparison.Ordinal) || answer[token.Length] != '.')
            return false;
        foreach (char c in answer[(token.Length + 1)..])
            if (!IsBase64Url(c))
                return false;
        return true;
    }

    private static bool IsBase64Url(char c) => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_';

    /// <summary>
    /// The first peer's key authorization for <paramref name="token"/>, peers asked in order; null when none has one,
    /// when the token is malformed, or when <see cref="ChallengePeerOptions.MaxRelaysInFlight"/> relays are already open.
    /// </summary>
    public async Task<string?> AskAsync(string token, CancellationToken cancellationToken)
    {
        if (!IsToken(token) || !_inFlight.Wait(0, CancellationToken.None))
            return null;
        try
        {
            foreach (var peer in _peers)
            {
                if (await AskOneAsync(peer, token, cancellationToken).ConfigureAwait(false) is { } answer)
                {
                    _logger.LogInformation("acme challenge {Token}: answered from peer gateway {Peer}", token, peer);
                    return answer;
                }
            }
            return null;
        }
        finally
        {
            _inFlight.Release();
        }
    }

    private async Task<string?> AskOneAsync(Uri peer, string token, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(peer, ".well-known/acme-challenge/" + token));
        request.Headers.TryAddWithoutValidation(RelayHeader, "1");
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (response.StatusCode != System.Net.HttpStatusCode.OK || response.Content.Headers.ContentLength > MaxAnswerBytes)
                return null;
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(MaxAnswerBytes + 1);
            try
            {
                int length = 0;
                int read;
                while (length <= MaxAnswerBytes && (read = await body.ReadAsync(buffer.AsMemory(length, MaxAnswerBytes + 1 - length), cancellationToken).ConfigureAwait(false)) > 0)
                    length += read;
                if (length > MaxAnswerBytes)
                    return null;
                string answer = Encoding.ASCII.GetString(buffer, 0, length).Trim();
                if (IsKeyAuthorization(answer, token))
                    return answer;
                _logger.LogWarning("acme challenge {Token}: peer gateway {Peer} answered something that is not a key authorization for it; not passed on", token, peer);
                return null;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            _logger.LogDebug("acme challenge {Token}: peer gateway {Peer} did not answer ({Reason})", token, peer, e.Message);
            return null;
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _inFlight.Dispose();
    }
}

/// <summary>How the plain-HTTP port asks its peer gateways for HTTP-01 tokens it does not hold.</summary>
internal sealed record ChallengePeerOptions
{
    /// <summary>Each peer must answer within this time (connect included); a peer that is down costs a CA's validation no more.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Relays open at once; beyond it an unknown token gets 404 unasked, so unknown tokens cannot flood the peers.</summary>
    public int MaxRelaysInFlight { get; init; } = 16;
}
