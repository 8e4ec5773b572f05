using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Storage;
using PeerCompute.Net.Dns;
using PeerCompute.Tunnel.Tls;

namespace PeerCompute.Gateway.Acme;

/// <summary>What --acme-directory and its companions say.</summary>
internal sealed record AcmeOptions
{
    public required Uri Directory { get; init; }
    public required string Email { get; init; }

    /// <summary>A PEM root to trust for the ACME server's own HTTPS instead of the system's (a test CA's, like pebble's).</summary>
    public string? TrustedRootFile { get; init; }

    /// <summary>The first retry after a failure; each further one waits twice as long, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromMinutes(1);
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromHours(6);

    /// <summary>Files under the gateway's state folder: the account key and the certificate with its key.</summary>
    public static (string AccountKey, string Certificate, string Key) Files(string stateFolder)
    {
        string folder = Path.Combine(stateFolder, "acme");
        return (Path.Combine(folder, "account.key"), Path.Combine(folder, "certificate.pem"), Path.Combine(folder, "certificate.key"));
    }
}

/// <summary>
/// Keeps the gateway's certificate for <c>*.DOMAIN</c> and <c>DOMAIN</c> from an ACME CA: obtains it when missing
/// (the gateway starts on a self-signed stand-in), renews it at two thirds of its lifetime, retries failures with a
/// doubling delay, and hands each new pair to the certificate reload path (files written atomically, owner-only).
/// </summary>
internal sealed class AcmeCertificates
{
    private readonly AcmeOptions _options;
    private readonly string _domain;
    private readonly DnsTxtRecords _records;
    private readonly ReloadingCertificate _certificate;
    private readonly ILogger _logger;
    private readonly (string AccountKey, string Certificate, string Key) _files;

    public AcmeCertificates(AcmeOptions options, string domain, string stateFolder, DnsTxtRecords records, ReloadingCertificate certificate, ILogger logger)
    {
        _options = options;
        _domain = domain;
        _records = records;
        _certificate = certificate;
        _logger = logger;
        _files = AcmeOptions.Files(stateFolder);
    }

    /// <summary>The names on the certificate: the apex first (its subject), then the wildcard.</summary>
    public IReadOnlyList<string> Names => [_domain, "*." + _domain];

    /// <summary>Failures since the last certificate (0 after a success).</summary>
    public int ConsecutiveFailures { get; private set; }

    /// <summary>Makes the self-signed stand-in when no certificate is on disk yet, so HTTPS and the tunnel port start at once.</summary>
    public static void EnsureStandIn(string stateFolder, string domain)
    {
        var files = AcmeOptions.Files(stateFolder);
        Directory.CreateDirectory(Path.GetDirectoryName(files.Certificate)!);
        if (!File.Exists(files.Certificate) || !File.Exists(files.Key))
            CertificateFiles.EnsureSelfSigned(files.Certificate, files.Key, domain);
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var accountKey = await LoadOrCreateAccountKeyAsync(_files.AccountKey, cancellationToken).ConfigureAwait(false);
            using var http = NewHttpClient(_options);
            var client = new AcmeClient(http, _options.Directory, accountKey) { PollInterval = TimeSpan.FromMilliseconds(500) };
            while (!cancellationToken.IsCancellationRequested)
            {
                var renewAt = RenewalTime();
                var wait = renewAt - DateTimeOffset.UtcNow;
                if (wait > TimeSpan.Zero)
                {
                    _logger.LogInformation("acme: certificate for {Names} renews at {When:u}", string.Join(", ", Names), renewAt);
                    await DelayAsync(wait, cancellationToken).ConfigureAwait(false);
                    continue;
                }
                try
                {
                    await client.EnsureAccountAsync(_options.Email, cancellationToken).ConfigureAwait(false);
                    var (chain, key) = await client.ObtainAsync(Names, new Records(_records), cancellationToken).ConfigureAwait(false);
                    await AtomicFile.WriteAsync(_files.Key, Encoding.ASCII.GetBytes(key), AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
                    await AtomicFile.WriteAsync(_files.Certificate, Encoding.ASCII.GetBytes(chain), AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
                    ConsecutiveFailures = 0;
                    _certificate.CheckNow();
                    using var leaf = X509Certificate2.CreateFromPem(chain);
                    _logger.LogInformation("acme: certificate obtained for {Names} from {Issuer}, valid until {NotAfter:u}",
                        string.Join(", ", Names), leaf.Issuer, leaf.NotAfter.ToUniversalTime());
                }
                catch (Exception e) when (e is AcmeException or HttpRequestException or IOException or CryptographicException or UnauthorizedAccessException
                    or InvalidOperationException or ArgumentException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    ConsecutiveFailures++;
                    var delay = TimeSpan.FromTicks(Math.Min(_options.MaxRetryDelay.Ticks, _options.RetryDelay.Ticks * (1L << Math.Min(ConsecutiveFailures - 1, 20))));
                    _logger.LogWarning("acme: obtaining the certificate for {Names} failed (attempt {Attempt}): {Reason}; retrying in {Delay:0} s",
                        string.Join(", ", Names), ConsecutiveFailures, e.Message, delay.TotalSeconds);
                    await DelayAsync(delay, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Now when the certificate on disk is the stand-in, lacks a name or does not load; else two thirds into its lifetime.</summary>
    private DateTimeOffset RenewalTime()
    {
        try
        {
            using var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(_files.Certificate));
            if (leaf.SubjectName.RawData.AsSpan().SequenceEqual(leaf.IssuerName.RawData) || !leaf.MatchesHostname(_domain) || !leaf.MatchesHostname("x." + _domain))
                return DateTimeOffset.MinValue;
            var notBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
            var notAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
            return notBefore + ((notAfter - notBefore) * 2 / 3);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            return DateTimeOffset.MinValue;
        }
    }

    /// <summary>Task.Delay takes at most about 49 days; a longer wait is taken in steps.</summary>
    private static Task DelayAsync(TimeSpan wait, CancellationToken cancellationToken) =>
        Task.Delay(wait > TimeSpan.FromDays(30) ? TimeSpan.FromDays(30) : wait, cancellationToken);

    /// <summary>One account for the wildcard and the custom domains: the first of them to start creates the key, the other reads it.</summary>
    private static readonly SemaphoreSlim AccountKeyLock = new(1, 1);

    internal static async Task<ECDsa> LoadOrCreateAccountKeyAsync(string path, CancellationToken cancellationToken)
    {
        await AccountKeyLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            if (File.Exists(path))
            {
                key.ImportFromPem(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
                return key;
            }
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await AtomicFile.WriteAsync(path, Encoding.ASCII.GetBytes(key.ExportPkcs8PrivateKeyPem()), AtomicFile.OwnerOnly, cancellationToken).ConfigureAwait(false);
            return key;
        }
        finally
        {
            AccountKeyLock.Release();
        }
    }

    internal static HttpClient NewHttpClient(AcmeOptions options)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(30) };
        if (options.TrustedRootFile is { } file)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(file);
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(roots);
        }
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };
    }

    private sealed class Records(DnsTxtRecords records) : IDnsChallengeRecords
    {
        public void Add(string name, string value) => records.Add(name, value);
        public void Remove(string name, string value) => records.Remove(name, value);
    }
}
