using System.Runtime.InteropServices;

namespace PeerCompute.Testing;

/// <summary>
/// Runs code inside a named network namespace (<c>/var/run/netns/NAME</c>) on a thread of its own: the thread joins
/// the namespace with setns(2), runs the code and ends, so no other code of the test process ever runs there. A socket
/// belongs to the namespace it was created in for its whole life, so listeners and connections made by the code keep
/// working there after the thread is gone (their asynchronous operations run on ordinary pool threads).
/// Only the socket's creation has to happen inside; a <c>Socket</c> constructor creates it at once.
/// </summary>
public static class NamespaceThread
{
    private const int CloneNewNet = 0x40000000;

    public static Task<T> RunAsync<T>(string networkNamespace, Func<T> action)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(networkNamespace);
        ArgumentNullException.ThrowIfNull(action);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                using (var handle = File.OpenHandle($"/var/run/netns/{networkNamespace}"))
                {
                    if (setns((int)handle.DangerousGetHandle(), CloneNewNet) != 0)
                        throw new InvalidOperationException($"setns({networkNamespace}) failed: errno {Marshal.GetLastPInvokeError()}");
                }
                done.SetResult(action());
            }
            catch (Exception ex)
            {
                done.SetException(new InvalidOperationException($"in network namespace {networkNamespace}: {ex.Message}", ex));
            }
        })
        {
            IsBackground = true,
            Name = "netns " + networkNamespace,
        };
        thread.Start();
        return done.Task;
    }

    public static Task RunAsync(string networkNamespace, Action action) =>
        RunAsync<object?>(networkNamespace, () =>
        {
            action();
            return null;
        });

    [DllImport("libc", SetLastError = true)]
    private static extern int setns(int fd, int nstype);
}
