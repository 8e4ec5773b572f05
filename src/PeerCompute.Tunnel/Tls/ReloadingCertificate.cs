using System.Net.Security;
using Microsoft.Extensions.Logging;

namespace PeerCompute.Tunnel.Tls;

/// <summary>
/// The gateway's server certificate from PEM files, reloaded when the files change. New TLS handshakes take the
/// new certificate; connections already up (tunnels, HTTP/2 clients) are not touched. Files are polled rather than
/// watched so that renewals that swap symlinks or rename over the files are seen too. A pair that does not load
/// (half-written, key not matching yet) is ignored until the next change; the previous certificate stays in use.
/// </summary>
public sealed class ReloadingCertificate
{
    private readonly string _certificateFile;
    private readonly string _keyFile;
    private SslStreamCertificateContext _current;
    private (DateTime, long, DateTime, long) _stamp;

    public ReloadingCertificate(string certificateFile, string keyFile, ILogger? logger = null)
    {
        _certificateFile = certificateFile;
        _keyFile = keyFile;
        Logger = logger;
        _stamp = Stamp();
        _current = CertificateFiles.Load(certificateFile, keyFile);
    }

    public SslStreamCertificateContext Current => Volatile.Read(ref _current);

    /// <summary>Where reloads are reported (settable because the host's loggers may exist only after the first load).</summary>
    public ILogger? Logger { get; set; }

    /// <summary>Raised after a new certificate was loaded.</summary>
    public event Action<SslStreamCertificateContext>? Reloaded;

    /// <summary>Looks at the files once; returns true when a new certificate was loaded.</summary>
    public bool CheckNow()
    {
        var stamp = Stamp();
        if (stamp == _stamp)
            return false;
        try
        {
            var loaded = CertificateFiles.Load(_certificateFile, _keyFile);
            _stamp = stamp;
            Volatile.Write(ref _current, loaded);
            Logger?.LogInformation("certificate reloaded from {File}: {Subject}, valid until {NotAfter:u}, key {Pin}",
                _certificateFile, loaded.TargetCertificate.Subject, loaded.TargetCertificate.NotAfter.ToUniversalTime(), CertificatePin.FromCertificate(loaded.TargetCertificate));
            Reloaded?.Invoke(loaded);
            return true;
        }
        catch (TunnelException e)
        {
            // Keep the old stamp so a later complete write is picked up; keep serving the old certificate.
            Logger?.LogWarning("certificate files changed but do not load yet, keeping the current one: {Reason}", e.Message);
            return false;
        }
    }

    /// <summary>Polls the files every <paramref name="interval"/> until cancelled.</summary>
    public async Task WatchAsync(TimeSpan interval, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
                CheckNow();
        }
        catch (OperationCanceledException)
        {
        }
    }

    private (DateTime, long, DateTime, long) Stamp()
    {
        var cert = new FileInfo(_certificateFile);
        var key = new FileInfo(_keyFile);
        // FileInfo follows symlinks for existence but not times: resolve to the target so a swapped link counts.
        return (Resolve(cert).LastWriteTimeUtc, Resolve(cert).Exists ? Resolve(cert).Length : -1,
                Resolve(key).LastWriteTimeUtc, Resolve(key).Exists ? Resolve(key).Length : -1);
    }

    private static FileInfo Resolve(FileInfo file)
    {
        try
        {
            return file.LinkTarget is null ? file : (file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo ?? file);
        }
        catch (IOException)
        {
            return file;
        }
    }
}
