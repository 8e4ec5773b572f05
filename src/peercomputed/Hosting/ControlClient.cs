using System.Net.Sockets;
using System.Text.Json;
using PeerCompute.Cli;
using PeerCompute.Core.Storage;

namespace PeerCompute.Daemon.Hosting;

/// <summary>The command side of <see cref="ControlSocket"/>: one request to the running daemon, bounded in time and size.</summary>
internal static class ControlClient
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);
    public const int MaxAnswerBytes = 64 * 1024;

    /// <summary>The running daemon's PeerId and addresses; a <see cref="CliException"/> saying what to do when it does not answer.</summary>
    public static async Task<InviteAnswer> RequestInviteAsync(PeerComputeHome home, CancellationToken cancellationToken)
    {
        string path = ControlSocket.PathIn(home);
        string notRunning = $"peercomputed is not running for {home.Path} (nothing answers on {path}). Start it (peercomputed, or: sudo systemctl start peercomputed) and run this again.";
        if (!File.Exists(path))
            throw new CliException(notRunning);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        byte[] answer;
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), timeout.Token).ConfigureAwait(false);
            await socket.SendAsync("invite\n"u8.ToArray(), SocketFlags.None, timeout.Token).ConfigureAwait(false);
            answer = await ReadToEndAsync(socket, timeout.Token).ConfigureAwait(false);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.AddressNotAvailable)
        {
            throw new CliException(notRunning); // a socket file left by a daemon that crashed
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied)
        {
            throw new CliException($"Not allowed to reach the running peercomputed on {path} (it is owner-only): run this as the user the daemon runs as, e.g. sudo -u peercompute PEERCOMPUTE_HOME={home.Path} peercomputed invite");
        }
        catch (SocketException e)
        {
            throw new CliException($"Could not ask the running peercomputed on {path}: {e.Message}. Is it running? Start it (peercomputed, or: sudo systemctl start peercomputed).");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException($"peercomputed did not answer on {path} within {Timeout.TotalSeconds} s; see its log (journalctl -u peercomputed).");
        }
        ControlAnswer? parsed;
        try
        {
            parsed = JsonSerializer.Deserialize(answer, ControlJsonContext.Default.ControlAnswer);
        }
        catch (JsonException)
        {
            parsed = null;
        }
        if (parsed?.Error is { } error)
            throw new CliException($"peercomputed refused the request: {error}");
        if (parsed?.PeerId is not { } peerId || parsed.Addrs is not { } addrs)
            throw new CliException($"peercomputed answered on {path} with something that is not an answer; is it the same version as this command ({CliApp.Version})?");
        return new InviteAnswer(peerId, addrs);
    }

    private static async Task<byte[]> ReadToEndAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxAnswerBytes];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await socket.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
                break;
            length += read;
        }
        return buffer[..length];
    }
}
