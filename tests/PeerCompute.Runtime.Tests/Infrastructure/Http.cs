namespace PeerCompute.Runtime.Tests.Infrastructure;

internal static class Http
{
    private static readonly HttpClient Client = new() { Timeout = TimeSpan.FromSeconds(5) };

    /// <summary>Waits until the port answers on 127.0.0.1 and returns the body.</summary>
    public static Task<string> GetWhenReadyAsync(int port, TimeSpan? timeout = null)
        => Eventually.WaitAsync<string>(async () => await Client.GetStringAsync($"http://127.0.0.1:{port}/"), $"HTTP on 127.0.0.1:{port}", timeout);

    /// <summary>Waits until <paramref name="endpoint"/> (e.g. a container's bridge address) answers and returns the body.</summary>
    public static Task<string> GetWhenReadyAsync(System.Net.IPEndPoint endpoint, TimeSpan? timeout = null)
        => Eventually.WaitAsync<string>(async () => await Client.GetStringAsync($"http://{endpoint}/"), $"HTTP on {endpoint}", timeout);
}
