using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace PeerCompute.Gateway.Acme;

/// <summary>An ACME server said no (its problem document, RFC 8555 §6.7), or answered what the protocol does not allow.</summary>
internal sealed class AcmeException(string message) : Exception(message);

internal sealed record AcmeDirectory(string NewNonce, string NewAccount, string NewOrder);

internal sealed record AcmeIdentifier(string Type, string Value);

internal sealed record AcmeProblem(string? Type, string? Detail, int? Status)
{
    public override string ToString() => $"{Detail ?? "no detail"} ({Type ?? "no type"})";
}

internal sealed record AcmeOrder(string Status, AcmeIdentifier[]? Identifiers, string[]? Authorizations, string? Finalize, string? Certificate, AcmeProblem? Error);

internal sealed record AcmeChallenge(string Type, string Url, string? Token, string? Status, AcmeProblem? Error);

internal sealed record AcmeAuthorization(string Status, AcmeIdentifier Identifier, AcmeChallenge[] Challenges, bool? Wildcard);

internal sealed record AcmeAccountRequest(bool TermsOfServiceAgreed, string[] Contact);

internal sealed record AcmeOrderRequest(AcmeIdentifier[] Identifiers);

internal sealed record AcmeFinalizeRequest(string Csr);

internal sealed record AcmeJwk(string Crv, string Kty, string X, string Y);

internal sealed record AcmeProtectedHeader(string Alg, string Nonce, string Url, AcmeJwk? Jwk, string? Kid);

internal sealed record AcmeJws(string Protected, string Payload, string Signature);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(AcmeDirectory))]
[JsonSerializable(typeof(AcmeProblem))]
[JsonSerializable(typeof(AcmeOrder))]
[JsonSerializable(typeof(AcmeAuthorization))]
[JsonSerializable(typeof(AcmeAccountRequest))]
[JsonSerializable(typeof(AcmeOrderRequest))]
[JsonSerializable(typeof(AcmeFinalizeRequest))]
[JsonSerializable(typeof(AcmeProtectedHeader))]
[JsonSerializable(typeof(AcmeJws))]
internal sealed partial class AcmeJsonContext : JsonSerializerContext;

/// <summary>Where DNS-01 challenge values go while a challenge is open: the gateway's own DNS server.</summary>
internal interface IDnsChallengeRecords
{
    void Add(string name, string value);
    void Remove(string name, string value);
}

/// <summary>Where HTTP-01 key authorizations go while a challenge is open: the gateway's plain-HTTP listener.</summary>
internal interface IHttpChallengeTokens
{
    void Add(string token, string keyAuthorization);
    void Remove(string token);
}

/// <summary>Where TLS-ALPN-01 key authorizations go while a challenge is open: the gateway's HTTPS port (RFC 8737).</summary>
internal interface ITlsAlpnChallenges
{
    void Add(string domain, string keyAuthorization);
    void Remove(string domain);
}

/// <summary>
/// A minimal ACME (RFC 8555) client for one thing: a certificate for a set of names by DNS-01, HTTP-01 or TLS-ALPN-01. Requests are JWS
/// (ES256, the account key) over HTTPS; nonces are reused from each response and a badNonce answer is retried.
/// </summary>
internal sealed class AcmeClient
{
    private const string JoseJson = "application/jose+json";
    private readonly HttpClient _http;
    private readonly Uri _directoryUrl;
    private readonly ECDsa _accountKey;
    private readonly AcmeJwk _jwk;
    private AcmeDirectory? _directory;
    private string? _nonce;
    private string? _kid;

    public AcmeClient(HttpClient http, Uri directoryUrl, ECDsa accountKey)
    {
        _http = http;
        _directoryUrl = directoryUrl;
        _accountKey = accountKey;
        var p = accountKey.ExportParameters(includePrivateParameters: false);
        _jwk = new AcmeJwk("P-256", "EC", Base64Url(p.Q.X!), Base64Url(p.Q.Y!));
        Thumbprint = Base64Url(SHA256.HashData(Encoding.UTF8.GetBytes($"{{\"crv\":\"{_jwk.Crv}\",\"kty\":\"{_jwk.Kty}\",\"x\":\"{_jwk.X}\",\"y\":\"{_jwk.Y}\"}}")));
    }

    /// <summary>The account key's JWK thumbprint (RFC 7638), the second half of every key authorization.</summary>
    public string Thumbprint { get; }

    /// <summary>How long to wait between polls of a pending authorization or order (unless the server says Retry-After).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one authorization or order may stay pending or processing.</summary>
    public TimeSpan PollTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The TXT value of a DNS-01 challenge: base64url(SHA-256(token "." thumbprint)) (RFC 8555 §8.4).</summary>
    public string DnsValue(string token) => Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(token + "." + Thumbprint)));

    /// <summary>Registers the account (or finds it again: the same key gives the same account) and keeps its URL.</summary>
    public async Task EnsureAccountAsync(string email, CancellationToken cancellationToken)
    {
        if (_kid is not null)
            return;
        var directory = await DirectoryAsync(cancellationToken).ConfigureAwait(false);
        byte[] payload = JsonSerializer.SerializeToUtf8Bytes(new AcmeAccountRequest(true, ["mailto:" + email]), AcmeJsonContext.Default.AcmeAccountRequest);
        using var response = await PostAsync(directory.NewAccount, payload, useJwk: true, cancellationToken).ConfigureAwait(false);
        _kid = response.Headers.Location?.ToString() ?? throw new AcmeException("the server created the account but sent no Location for it");
    }

    /// <summary>
    /// Orders a certificate for <paramref name="names"/> (the first is the subject), proves each name with DNS-01
    /// through <paramref name="records"/> and returns the PEM chain and the PEM key of a fresh P-256 key.
    /// </summary>
    public Task<(string ChainPem, string KeyPem)> ObtainAsync(IReadOnlyList<string> names, IDnsChallengeRecords records, CancellationToken cancellationToken) =>
        ObtainAsync(names, "dns-01", (identifier, token) =>
        {
            string name = "_acme-challenge." + identifier.TrimStart('*', '.');
            string value = DnsValue(token);
            records.Add(name, value);
            return () => records.Remove(name, value);
        }, cancellationToken);

    /// <summary>The same, proving each name with HTTP-01: the key authorization is served at <c>/.well-known/acme-challenge/TOKEN</c> on port 80.</summary>
    public Task<(string ChainPem, string KeyPem)> ObtainAsync(IReadOnlyList<string> names, IHttpChallengeTokens tokens, CancellationToken cancellationToken) =>
        ObtainAsync(names, "http-01", (_, token) =>
        {
            tokens.Add(token, token + "." + Thumbprint);
            return () => tokens.Remove(token);
        }, cancellationToken);

    /// <summary>The same, proving each name with TLS-ALPN-01: a certificate carrying the key authorization's digest is shown on port 443.</summary>
    public Task<(string ChainPem, string KeyPem)> ObtainAsync(IReadOnlyList<string> names, ITlsAlpnChallenges challenges, CancellationToken cancellationToken) =>
        ObtainAsync(names, "tls-alpn-01", (identifier, token) =>
        {
            challenges.Add(identifier, token + "." + Thumbprint);
            return () => challenges.Remove(identifier);
        }, cancellationToken);

    private async Task<(string ChainPem, string KeyPem)> ObtainAsync(IReadOnlyList<string> names, string challengeType, Func<string, string, Action> publish, CancellationToken cancellationToken)
    {
        if (_kid is null)
            throw new InvalidOperationException("EnsureAccountAsync first");
        var directory = await DirectoryAsync(cancellationToken).ConfigureAwait(false);
        byte[] orderPayload = JsonSerializer.SerializeToUtf8Bytes(new AcmeOrderRequest([.. names.Select(n => new AcmeIdentifier("dns", n))]), AcmeJsonContext.Default.AcmeOrderRequest);
        string orderUrl;
        AcmeOrder order;
        using (var response = await PostAsync(directory.NewOrder, orderPayload, useJwk: false, cancellationToken).ConfigureAwait(false))
        {
            orderUrl = response.Headers.Location?.ToString() ?? throw new AcmeException("the server created the order but sent no Location for it");
            order = await ReadAsync(response, AcmeJsonContext.Default.AcmeOrder, cancellationToken).ConfigureAwait(false);
        }

        var published = new List<Action>();
        try
        {
            var pending = new List<(string AuthorizationUrl, AcmeChallenge Challenge)>();
            foreach (string url in order.Authorizations ?? [])
            {
                var authorization = await PostAsGetAsync(url, AcmeJsonContext.Default.AcmeAuthorization, cancellationToken).ConfigureAwait(false);
                if (authorization.Status == "valid")
                    continue;
                var challenge = authorization.Challenges.FirstOrDefault(c => c.Type == challengeType)
                    ?? throw new AcmeException($"the server offers no {challengeType} challenge for {authorization.Identifier.Value}");
                published.Add(publish(authorization.Identifier.Value, challenge.Token ?? throw new AcmeException($"a {challengeType} challenge without a token")));
                pending.Add((url, challenge));
            }
            // Every value is published before the server is told to look: the apex and the wildcard share one name.
            foreach (var (_, challenge) in pending)
                (await PostAsync(challenge.Url, "{}"u8.ToArray(), useJwk: false, cancellationToken).ConfigureAwait(false)).Dispose();
            foreach (var (url, _) in pending)
            {
                var done = await PollAsync(url, AcmeJsonContext.Default.AcmeAuthorization, a => a.Status is not "pending" and not "processing", cancellationToken).ConfigureAwait(false);
                if (done.Status != "valid")
                {
                    var failed = done.Challenges.FirstOrDefault(c => c.Type == challengeType);
                    throw new AcmeException($"the {challengeType} challenge for {done.Identifier.Value} failed: {failed?.Error?.ToString() ?? done.Status}");
                }
            }
        }
        finally
        {
            foreach (var withdraw in published)
                withdraw();
        }

        order = await PollAsync(orderUrl, AcmeJsonContext.Default.AcmeOrder, o => o.Status is not "pending" and not "processing", cancellationToken).ConfigureAwait(false);
        if (order.Status != "ready")
            throw new AcmeException($"the order is {order.Status}, not ready: {order.Error}");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(CommonName(names[0]), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in names)
            san.AddDnsName(name);
        request.CertificateExtensions.Add(san.Build());
        byte[] finalize = JsonSerializer.SerializeToUtf8Bytes(new AcmeFinalizeRequest(Base64Url(request.CreateSigningRequest())), AcmeJsonContext.Default.AcmeFinalizeRequest);
        (await PostAsync(order.Finalize ?? throw new AcmeException("the order has no finalize URL"), finalize, useJwk: false, cancellationToken).ConfigureAwait(false)).Dispose();
        order = await PollAsync(orderUrl, AcmeJsonContext.Default.AcmeOrder, o => o.Status is not "processing" and not "ready", cancellationToken).ConfigureAwait(false);
        if (order.Status != "valid" || order.Certificate is null)
            throw new AcmeException($"the order ended {order.Status}: {order.Error}");
        using var certificate = await PostAsync(order.Certificate, null, useJwk: false, cancellationToken, accept: "application/pem-certificate-chain").ConfigureAwait(false);
        string chain = await certificate.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        if (!chain.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal))
            throw new AcmeException("the certificate download holds no PEM certificate");
        return (chain, key.ExportPkcs8PrivateKeyPem());
    }

    private async Task<AcmeDirectory> DirectoryAsync(CancellationToken cancellationToken)
    {
        if (_directory is not null)
            return _directory;
        using var response = await _http.GetAsync(_directoryUrl, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            throw new AcmeException($"the directory {_directoryUrl} answered {(int)response.StatusCode}");
        return _directory = await ReadAsync(response, AcmeJsonContext.Default.AcmeDirectory, cancellationToken).ConfigureAwait(false);
    }

    private async Task<T> PollAsync<T>(string url, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, Func<T, bool> finished, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + PollTimeout;
        while (true)
        {
            using var response = await PostAsync(url, null, useJwk: false, cancellationToken).ConfigureAwait(false);
            var value = await ReadAsync(response, type, cancellationToken).ConfigureAwait(false);
            if (finished(value))
                return value;
            if (DateTime.UtcNow > deadline)
                throw new AcmeException($"{url} did not finish within {PollTimeout.TotalSeconds:0} s");
            var wait = response.Headers.RetryAfter?.Delta ?? PollInterval;
            await Task.Delay(wait < PollInterval ? PollInterval : wait > TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : wait, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<T> PostAsGetAsync<T>(string url, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await PostAsync(url, null, useJwk: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, type, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One signed POST (<paramref name="payload"/> null: POST-as-GET); a badNonce answer is retried with the fresh nonce it carries.</summary>
    private async Task<HttpResponseMessage> PostAsync(string url, byte[]? payload, bool useJwk, CancellationToken cancellationToken, string? accept = null)
    {
        for (int attempt = 1; ; attempt++)
        {
            string nonce = _nonce ?? await NewNonceAsync(cancellationToken).ConfigureAwait(false);
            _nonce = null;
            var header = new AcmeProtectedHeader("ES256", nonce, url, useJwk ? _jwk : null, useJwk ? null : _kid);
            string protectedPart = Base64Url(JsonSerializer.SerializeToUtf8Bytes(header, AcmeJsonContext.Default.AcmeProtectedHeader));
            string payloadPart = payload is null ? "" : Base64Url(payload);
            byte[] signature = _accountKey.SignData(Encoding.ASCII.GetBytes(protectedPart + "." + payloadPart), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            byte[] body = JsonSerializer.SerializeToUtf8Bytes(new AcmeJws(protectedPart, payloadPart, Base64Url(signature)), AcmeJsonContext.Default.AcmeJws);
            using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(JoseJson);
            if (accept is not null)
                request.Headers.Accept.ParseAdd(accept);
            var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (response.Headers.TryGetValues("Replay-Nonce", out var nonces))
                _nonce = nonces.FirstOrDefault();
            if (response.IsSuccessStatusCode)
                return response;
            using (response)
            {
                AcmeProblem? problem = null;
                try
                {
                    problem = await ReadAsync(response, AcmeJsonContext.Default.AcmeProblem, cancellationToken).ConfigureAwait(false);
                }
                catch (AcmeException)
                {
                    // Not a problem document: reported by status below.
                }
                if (problem?.Type == "urn:ietf:params:acme:error:badNonce" && attempt < 5)
                    continue;
                throw new AcmeException($"{url} answered {(int)response.StatusCode}: {problem?.ToString() ?? "no problem document"}");
            }
        }
    }

    private async Task<string> NewNonceAsync(CancellationToken cancellationToken)
    {
        var directory = await DirectoryAsync(cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Head, directory.NewNonce);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.Headers.TryGetValues("Replay-Nonce", out var nonces) && nonces.FirstOrDefault() is { Length: > 0 } nonce)
            return nonce;
        throw new AcmeException($"{directory.NewNonce} gave no Replay-Nonce ({(int)response.StatusCode})");
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        try
        {
            // ACME documents are small; a cap keeps a hostile server from making us buffer without end.
            if (response.Content.Headers.ContentLength > 1024 * 1024)
                throw new AcmeException("an ACME response over 1 MiB");
            var value = await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false);
            return value ?? throw new AcmeException($"{response.RequestMessage?.RequestUri} sent an empty document");
        }
        catch (JsonException e)
        {
            throw new AcmeException($"{response.RequestMessage?.RequestUri} sent a document that does not parse: {e.Message}");
        }
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static X500DistinguishedName CommonName(string name)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(name);
        return builder.Build();
    }
}
