namespace PeerCompute.Mux;

/// <summary>An auto-reset event for one waiter at a time: <see cref="Set"/> wakes the waiter or is remembered for the next wait.</summary>
internal sealed class AsyncSignal
{
    private readonly Lock _lock = new();
    private bool _set;
    private TaskCompletionSource? _waiter;

    /// <summary>
    /// The waiter resumes on the thread that calls <see cref="Set"/> (for waits begun after this is set) instead of being
    /// queued to the thread pool.
    /// </summary>
    public bool ResumeInline { get; set; }

    public Task WaitAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource waiter;
        lock (_lock)
        {
            if (_set)
            {
                _set = false;
                return Task.CompletedTask;
            }
            _waiter ??= new TaskCompletionSource(ResumeInline ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
            waiter = _waiter;
        }
        return cancellationToken.CanBeCanceled ? waiter.Task.WaitAsync(cancellationToken) : waiter.Task;
    }

    public void Set()
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            waiter = _waiter;
            _waiter = null;
            if (waiter is null)
            {
                _set = true;
                return;
            }
        }
        waiter.TrySetResult();
    }
}
