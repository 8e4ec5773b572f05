using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using PeerCompute.Net.Multistream;
using PeerCompute.Mux;

namespace PeerCompute.Net.Host;

/// <summary>
/// Routes inbound streams by protocol id: negotiates (unknown protocols get <c>na</c>, never a reset), runs the handler,
/// half-closes the stream when the handler returns and resets it when it throws, and logs why it threw.
/// The built-in protocols (identify, ping) are routed the same way and cannot be replaced.
/// </summary>
internal sealed class StreamRouter(TimeSpan negotiationTimeout, ILogger logger)
{
    private readonly ConcurrentDictionary<string, Libp2pStreamHandler> _handlers = new(StringComparer.Ordinal);
    private readonly List<(string Protocol, Libp2pStreamHandler Handler)> _builtIn = [];

    /// <summary>Built-in protocols first, in the order added, then the registered ones in ordinal order.</summary>
    public IReadOnlyList<string> Protocols => [.. _builtIn.Select(b => b.Protocol), .. _handlers.Keys.Order(StringComparer.Ordinal)];

    /// <summary>Adds a protocol the host itself serves; call before any stream arrives.</summary>
    public void AddBuiltIn(string protocol, Libp2pStreamHandler handler) => _builtIn.Add((protocol, handler));

    public void SetHandler(string protocol, Libp2pStreamHandler handler)
    {
        if (IsBuiltIn(protocol) || protocol.Length == 0 || protocol.Length >= MultistreamMessage.MaxLength)
            throw new ArgumentException($"'{protocol}' cannot be registered.", nameof(protocol));
        _handlers[protocol] = handler;
    }

    public bool RemoveHandler(string protocol) => _handlers.TryRemove(protocol, out _);

    /// <summary>Serves one inbound stream to its end; never throws.</summary>
    public async Task HandleAsync(Libp2pConnection connection, YamuxStream stream, CancellationToken cancellationToken)
    {
        string? protocol;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(negotiationTimeout);
            protocol = await MultistreamSelect.RespondAsync(stream, IsServed, () => Protocols, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            stream.Reset();
            return;
        }
        if (protocol is null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
            return;
        }
        if (Find(protocol) is not { } handler)
        {
            // Removed while the stream was negotiating.
            stream.Reset();
            return;
        }
        try
        {
            await handler(new Libp2pStream(stream, protocol, connection), cancellationToken).ConfigureAwait(false);
            await stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            stream.Reset();
            if (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                Log(protocol, connection, e);
        }
    }

    private void Log(string protocol, Libp2pConnection connection, Exception e)
    {
        // A failing handler of ours (identify, ping) is the peer's doing far more often than a bug: keep it quiet.
        if (IsBuiltIn(protocol))
            logger.LogDebug(e, "{Protocol} stream {Connection} failed: {Reason}; reset", protocol, connection, e.Message);
        else
            logger.LogWarning(e, "handler for {Protocol} on a stream {Connection} threw: {Reason}; stream reset", protocol, connection, e.Message);
    }

    private Libp2pStreamHandler? Find(string protocol)
    {
        foreach (var (builtIn, handler) in _builtIn)
            if (builtIn == protocol)
                return handler;
        return _handlers.TryGetValue(protocol, out var registered) ? registered : null;
    }

    private bool IsBuiltIn(string protocol) => _builtIn.Exists(b => b.Protocol == protocol);

    private bool IsServed(string protocol) => IsBuiltIn(protocol) || _handlers.ContainsKey(protocol);
}
