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
    public static async Task RunAsync(YamuxStream stream, Socket upstream, int bufferSize, CancellationToken cancellationToken)
    {
        using var abort = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var toUpstream = PumpToSocketAsync(stream, upstream, bufferSize, abort);
        var toStream = PumpToStreamAsync(upstream, stream, bufferSize, abort);
        try
        {
            await Task.WhenAll(toUpstream, toStream).ConfigureAwait(false);
        }
        catch (Exception)
        {
            stream.Reset();
        }
    }

    private static async Task PumpToSocketAsync(YamuxStream from, Socket to, int bufferSize, CancellationTokenSource abort)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                int read = await from.ReadAsync(buffer.AsMemory(0, bufferSize), abort.Token).ConfigureAwait(false);
                if (read == 0)
                    break;
                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, abort.Token).ConfigureAwait(false);
            }
            to.Shutdown(SocketShutdown.Send);
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

    private static async Task PumpToStreamAsync(Socket from, YamuxStream to, int bufferSize, CancellationTokenSource abort)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            while (true)
            {
                int read = await from.ReceiveAsync(buffer.AsMemory(0, bufferSize), SocketFlags.None, abort.Token).ConfigureAwait(false);
                if (read == 0)
                    break;
                await to.WriteAsync(buffer.AsMemory(0, read), abort.Token).ConfigureAwait(false);
            }
            await to.CompleteWritesAsync(abort.Token).ConfigureAwait(false);
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
