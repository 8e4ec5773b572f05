namespace PeerCompute.Testing;

/// <summary>Waits for a condition the system reaches on its own (a port answering, a container exiting). The timeout only guards against hangs.</summary>
public static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T?>> probe, string what, TimeSpan? timeout = null) where T : class
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (await probe() is { } value)
                    return value;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                last = ex;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"gave up waiting for {what}" + (last is null ? "" : $" (last error: {last.Message})"), last);
    }

    public static Task WaitAsync(Func<Task<bool>> probe, string what, TimeSpan? timeout = null)
        => WaitAsync<object>(async () => await probe() ? new object() : null, what, timeout);
}
