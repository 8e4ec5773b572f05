using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Logging;
using PeerCompute.Core.Multiformats;
using PeerCompute.Core.Storage;
using ZLogger;

namespace PeerCompute.Daemon.Hosting;

/// <summary>
/// The running daemon's local, owner-only channel: a Unix domain socket <c>provider/control.sock</c> (mode 0600, in the
/// 0700 state folder) for commands of the same user, today only <c>peercomputed invite</c>. One request per connection,
/// one line (<c>invite\n</c>, at most <see cref="MaxRequestBytes"/>, within <see cref="RequestTimeout"/>); one JSON line
/// back, <c>{"peerId","addrs"}</c> or <c>{"error"}</c>. The daemon never signs here: it only says where it listens,
/// and the command signs with identity.key, which the same user can read anyway.
/// </summary>
internal sealed class ControlSocket : IAsyncDisposable
{
    public const string FileName = "control.sock";
    public const int MaxRequestBytes = 256;
    public const int MaxConcurrent = 8;
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _listener;
    private readonly string _path;
    private readonly Func<InviteAnswer> _invite;
    private readonly ILogger _log;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConcurrent, MaxConcurrent);
    private Task _accepting = Task.CompletedTask;

    private ControlSocket(Socket listener, string path, Func<InviteAnswer> invite, ILogger log)
    {
        _listener = listener;
        _path = path;
        _invite = invite;
        _log = log;
    }

    public static string PathIn(PeerComputeHome home) => Path.Combine(home.ProviderStateFolder, FileName);

    /// <summary>
    /// Listens on <paramref name="path"/>. A file already there is a crashed daemon's (the runtime's lock keeps a second
    /// daemon on this state folder out before this point) and is replaced.
    /// </summary>
    public static ControlSocket Start(string path, Func<InviteAnswer> invite, ILogger log)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("the control socket needs Unix file modes");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!, PeerComputeHome.FolderMode);
        if (File.Exists(path))
        {
            File.Delete(path);
            log.ZLogInformation($"control: replaced a stale {path} (left by a daemon that did not stop cleanly)");
        }
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(new UnixDomainSocketEndPoint(path));
            // The folder is 0700 already; the socket itself is owner-only too, so loosening the folder does not open it.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(MaxConcurrent);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        var control = new ControlSocket(listener, path, invite, log);
        control._accepting = Task.Run(control.AcceptAsync);
        return control;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException e)
            {
                _log.ZLogWarning($"control: accept failed: {e.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false); // e.g. out of file descriptors: no busy loop
                continue;
            }
            if (!_slots.Wait(0))
            {
                client.Dispose(); // more than MaxConcurrent at once: nobody needs that many
                continue;
            }
            _ = Task.Run(async () =>
            {
                try
                {
                    await ServeAsync(client).ConfigureAwait(false);
                }
                finally
                {
                    client.Dispose();
                    _slots.Release();
                }
            });
        }
    }

    private async Task ServeAsync(Socket client)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        try
        {
            string? request = await ReadRequestAsync(client, timeout.Token).ConfigureAwait(false);
            ControlAnswer answer = request switch
            {
                null => new ControlAnswer { Error = $"malformed request: expected one line of at most {MaxRequestBytes} bytes ending in a newline, e.g. 'invite'" },
                "invite" => Answer(_invite()),
                _ => new ControlAnswer { Error = $"unknown request '{Printable(request)}'; this daemon answers: invite" },
            };
            byte[] line = [.. JsonSerializer.SerializeToUtf8Bytes(answer, ControlJsonContext.Default.ControlAnswer), (byte)'\n'];
            await client.SendAsync(line, SocketFlags.None, timeout.Token).ConfigureAwait(false);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // A client that went away or took too long: nothing to answer.
        }
    }

    private static ControlAnswer Answer(InviteAnswer invite) => new() { PeerId = invite.PeerId, Addrs = invite.Addrs };

    /// <summary>The request line without its newline; null when it is not one short UTF-8 line.</summary>
    private static async Task<string?> ReadRequestAsync(Socket client, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxRequestBytes + 1];
        int length = 0;
        while (length < buffer.Length)
        {
            int read = await client.ReceiveAsync(buffer.AsMemory(length), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            if (read == 0)
                return null; // closed before a newline
            int newline = Array.IndexOf(buffer, (byte)'\n', length, read);
            length += read;
            if (newline >= 0)
            {
                if (newline != length - 1)
                    return null; // one request per connection
                var bytes = buffer.AsSpan(0, newline);
                if (bytes.EndsWith("\r"u8))
                    bytes = bytes[..^1];
                return System.Text.Unicode.Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes).Trim() : null;
            }
        }
        return null;
    }

    private static string Printable(string text) =>
        string.Concat(text.Take(40).Select(c => char.IsControl(c) ? '?' : c)) + (text.Length > 40 ? "…" : "");

    /// <summary>
    /// What an invite should carry, from the host's listen addresses (wildcards already expanded; relayed ones while
    /// reserved): routable direct ones first, then relayed ones, loopback only when there is nothing else (a provider
    /// on loopback alone, as in tests), at most <see cref="Core.Trust.Invite.MaxAddresses"/>; relayed ones keep their place.
    /// </summary>
    public static List<string> InviteAddresses(IEnumerable<Multiaddr> listening, int max = Core.Trust.Invite.MaxAddresses)
    {
        var all = listening.Select(a => a.WithoutPeerId()).Distinct().ToList();
        var relayed = all.Where(a => a.IsRelayed).Take(max).ToList();
        var direct = all.Where(a => !a.IsRelayed && !IsLoopback(a)).ToList();
        if (direct.Count == 0 && relayed.Count == 0)
            direct = [.. all.Where(a => !a.IsRelayed)];
        return [.. direct.Take(max - relayed.Count).Concat(relayed).Select(a => a.ToString())];
    }

    private static bool IsLoopback(Multiaddr address) =>
        address.Components.Count > 0
        && address.Components[0].Protocol is MultiaddrProtocol.Ip4 or MultiaddrProtocol.Ip6
        && System.Net.IPAddress.IsLoopback(new System.Net.IPAddress(address.Components[0].Value.Span));

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Dispose();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
        {
        }
        try
        {
            File.Delete(_path);
        }
        catch (IOException e)
        {
            _log.ZLogWarning($"control: could not remove {_path}: {e.Message}");
        }
        _stop.Dispose();
    }
}

/// <summary>The daemon's side of an invite: its PeerId and where it can be reached now.</summary>
internal sealed record InviteAnswer(string PeerId, IReadOnlyList<string> Addrs);

/// <summary>One answer line on the control socket: <c>{"peerId","addrs"}</c> or <c>{"error"}</c>.</summary>
internal sealed class ControlAnswer
{
    public string? PeerId { get; init; }

    public IReadOnlyList<string>? Addrs { get; init; }

    public string? Error { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(ControlAnswer))]
internal sealed partial class ControlJsonContext : JsonSerializerContext;
