using System.Buffers;
using System.Net.Sockets;
using PeerCompute.Mux;

namespace PeerCompute.Tunnel.Client;

/// <summary>
/// Copies a tunnel stream and a container connection into each other until both directions are done. A FIN on one
/// side becomes a half-close on the other (so request bodies without length and WebSockets close cleanly); an error
/// on either side aborts both (RST on the stream, the socket closed), so neither end waits for bytes that never come.
/// </summary>
internal static class StreamSplice
{
    /// <summary>Splices until both directions are done; says whether the container answered, and if not, which side gave up.</summary>
    public static async Task<SpliceEnd> RunAsync(YamuxStream stream, Socket upstream, int bufferSize, CancellationToken cancellationToken, SpliceActivity? activity = null)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // The pump toward the container only sends each piece into its socket (which does not block: a full socket
        // buffer makes the send asynchronous, returning to the read loop), so it may run on the tunnel's read loop.
        stream.ResumeReadsOnReadLoop = true;
        var progress = new Progress { Activity = activity };
        var toUpstream = PumpToSocketAsync(stream, upstream, bufferSize, abort, progress);
        var toStream = PumpToStreamAsync(upstream, stream, bufferSize, abort, progress);
        try
        {
            await Task.WhenAll(toUpstream, toStream).ConfigureAwait(false);
        }
        catch (Exception)
        {
            await EndAsync(stream, progress, cancellationToken).ConfigureAwait(false);
        }
        return progress.FromContainer > 0 ? SpliceEnd.Answered
            : progress.FirstEnd switch
            {
                Progress.Container => SpliceEnd.ContainerClosedWithoutAnswer,
                Progress.Gateway => SpliceEnd.GatewayGaveUp,
                _ => SpliceEnd.Stopped,
            };
    }

    /// <summary>
    /// Ends the stream after a pump failed. A container that failed before sending a byte (Docker's port proxy resets a
    /// connection it accepted for a container that does not listen) gets an orderly end: a reset would discard the
    /// Connected byte if the gateway had not read it yet, and the visitor would be told the tunnel failed instead of
    /// the container. Any other failure resets, so a cut answer is never taken for a whole one.
    /// </summary>
    private static async ValueTask EndAsync(YamuxStream stream, Progress progress, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref progress.FromContainer) == 0 && Volatile.Read(ref progress.FirstEnd) == Progress.Container && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                await stream.CompleteWritesAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
            {
            }
        }
        stream.Reset();
    }

    /// <summary>What the two pumps saw: bytes from the container, and which side ended first (the container closing or failing, or the gateway resetting).</summary>
    private sealed class Progress
    {
        public const int Container = 1;
        public const int Gateway = 2;
        public long FromContainer;
        public int FirstEnd;
        public SpliceActivity? Activity;

        public void Ended(int side) => Interlocked.CompareExchange(ref FirstEnd, side, 0);
    }

    private static async Task PumpToSocketAsync(YamuxStream from, Socket to, int bufferSize, CancellationTokenSource abort, Progress progress)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                int read;
                try
                {
                    read = await from.ReadAsync(buffer.AsMemory(0, bufferSize), abort.Token).ConfigureAwait(false);
                }
                catch (IOException)
                {
                    progress.Ended(Progress.Gateway);
                    throw;
                }
                if (read == 0)
                    break;
                progress.Activity?.Saw(SpliceActivity.ToContainer);
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, abort.Token).ConfigureAwait(false);
            }
            to.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException) when (Ended(progress, Progress.Container))
        {
            // Not reached: the filter records the side and declines, so the clause below aborts both directions.
            throw;
        }
        catch (Exception) when (Abort(abort))
        {
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task PumpToStreamAsync(Socket from, YamuxStream to, int bufferSize, CancellationTokenSource abort, Progress progress)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer.AsMemory(0, bufferSize), SocketFlags.None, abort.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    progress.Ended(Progress.Container);
                    break;
                }
                progress.FromContainer += read;
                progress.Activity?.Saw(SpliceActivity.FromContainer);
                await to.WriteAsync(buffer.AsMemory(0, read), abort.Token).ConfigureAwait(false);
            }
            await to.CompleteWritesAsync(abort.Token).ConfigureAwait(false);
        }
        catch (SocketException) when (Ended(progress, Progress.Container))
        {
            // Not reached: the filter records the side and declines, so the clause below aborts both directions.
            throw;
        }
        catch (Exception) when (Abort(abort))
        {
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Records which side ended; never catches (used as an exception filter).</summary>
    private static bool Ended(Progress progress, int side)
    {
        progress.Ended(side);
        return false;
    }

    /// <summary>Stops the other direction too; never catches (used as an exception filter).</summary>
    private static bool Abort(CancellationTokenSource abort)
    {
        try
        {
            abort.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
        return false;
    }
}

/// <summary>
/// Which way a splice's bytes went last, and when: a connection whose last bytes were the container's answer and that
/// has been quiet since is between requests (HTTP keep-alive), so closing it loses nothing: the gateway's client sends
/// its next request on a new connection. One whose last bytes were the gateway's waits for its answer.
/// </summary>
internal sealed class SpliceActivity(TimeProvider time)
{
    public const int ToContainer = 1;
    public const int FromContainer = 2;
    private int _last;
    private long _at = time.GetTimestamp();

    public void Saw(int direction)
    {
        Volatile.Write(ref _last, direction);
        Volatile.Write(ref _at, time.GetTimestamp());
    }

    /// <summary>True when no request is waiting for its answer and nothing moved for <paramref name="quiet"/>.</summary>
    public bool IdleFor(TimeSpan quiet)
        => Volatile.Read(ref _last) != ToContainer && time.GetElapsedTime(Volatile.Read(ref _at)) >= quiet;
}

/// <summary>How a splice ended, as far as the visitor is concerned.</summary>
internal enum SpliceEnd
{
    /// <summary>The container sent at least one byte.</summary>
    Answered,
    /// <summary>The container closed (or reset) its connection before sending anything.</summary>
    ContainerClosedWithoutAnswer,
    /// <summary>The gateway reset the stream (the visitor left, or the gateway's time ran out) before the container sent anything.</summary>
    GatewayGaveUp,
    /// <summary>The provider stopped the splice (shutting down) before the container sent anything.</summary>
    Stopped,
}
