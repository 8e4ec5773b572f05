namespace PeerCompute.Core.Storage;

/// <summary>
/// An exclusive advisory lock held through a lock file (flock on Unix), so that two processes
/// doing read-modify-write on the same state file take turns.
/// </summary>
public sealed class FileLock : IDisposable
{
    private readonly FileStream _stream;

    private FileLock(FileStream stream) => _stream = stream;

    public static async Task<FileLock> AcquireAsync(string lockPath, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
                if (!OperatingSystem.IsWindows())
                    options.UnixCreateMode = AtomicFile.OwnerOnly;
                return new FileLock(new FileStream(lockPath, options));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Held by another process: back off and try again (flock offers no async wait).
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 100));
            }
            catch (IOException ex)
            {
                throw new IOException($"Timed out after {timeout.TotalSeconds:0.#} s waiting for the lock on {lockPath} (another peerctl or peercomputed holds it).", ex);
            }
        }
    }

    public void Dispose() => _stream.Dispose();
}
