using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PeerCompute.Mux;
using PeerCompute.Tunnel.Hostnames;
using PeerCompute.Tunnel.Protocol;

namespace PeerCompute.Tunnel.Client;

/// <summary>
/// The routes the provider asks the gateway for, and their announcement on each session: at once, and again after
/// every change. Each exchange is its own short control stream (SetRoutes, RoutesResult, closed), so an idle tunnel
/// keeps no stream open. The gateway's answer per label goes to <paramref name="answered"/>.
/// </summary>
internal sealed class RouteAnnouncer(string tag, TimeSpan exchangeTimeout, Action<IReadOnlyDictionary<string, RouteResult>> answered, ILogger logger)
{
    private readonly Lock _lock = new();
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private string[] _routes = [];

    /// <summary>The deployment names asked for.</summary>
    public IReadOnlyList<string> Routes
    {
        get { lock (_lock) return _routes; }
    }

    /// <summary>Replaces the routes; names that cannot be a hostname label are left out and logged.</summary>
    public void Set(IEnumerable<string> names)
    {
        var valid = new List<string>();
        foreach (string name in names.Distinct(StringComparer.Ordinal))
        {
            if (TunnelHostname.IsValidName(name))
                valid.Add(name);
            else
                logger.LogWarning("deployment name '{Name}' cannot be a hostname label (1-{Max} of a-z, 0-9, single '-'): no public URL for it", name, TunnelHostname.MaxNameLength);
        }
        lock (_lock)
            _routes = [.. valid];
        _changed.Writer.TryWrite(true);
    }

    /// <summary>Announces the routes on <paramref name="session"/> now and after every change; a failed exchange ends the session.</summary>
    public async Task RunAsync(YamuxSession session, CancellationToken cancellationToken)
    {
        try
        {
            do
            {
                _changed.Reader.TryRead(out _);
                await ExchangeAsync(session, cancellationToken).ConfigureAwait(false);
            }
            while (await _changed.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or TunnelException)
        {
            if (!cancellationToken.IsCancellationRequested && !session.IsClosed)
            {
                logger.LogWarning("tunnel: sending routes failed ({Reason}); reconnecting", e.Message);
                await session.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task ExchangeAsync(YamuxSession session, CancellationToken cancellationToken)
    {
        var labels = Routes.Select(name => TunnelHostname.LabelFor(name, tag)).ToList();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(exchangeTimeout);
        await using var stream = await session.OpenStreamAsync(timeout.Token).ConfigureAwait(false);
        await stream.WriteAsync(new SetRoutes(labels).Encode(), timeout.Token).ConfigureAwait(false);
        await stream.CompleteWritesAsync(timeout.Token).ConfigureAwait(false);
        var (type, payload) = await TunnelMessageIO.ReadAsync(stream, TunnelHandshake.MaxControlPayload, timeout.Token).ConfigureAwait(false);
        if (type != TunnelMessageType.RoutesResult || !RoutesResult.TryParse(payload, out var result))
            throw new TunnelException(TunnelErrorKind.Protocol, $"tunnel: expected the gateway's RoutesResult, got message type {(byte)type}");
        foreach (var refused in result.Results.Where(r => !r.Accepted))
            logger.LogWarning("the gateway refused hostname {Label}: {Reason}", refused.Label, refused.Reason);
        answered(result.Results.ToDictionary(r => r.Label, StringComparer.Ordinal));
    }
}
