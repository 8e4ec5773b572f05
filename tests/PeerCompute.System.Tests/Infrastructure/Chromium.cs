using PeerCompute.Testing;

namespace PeerCompute.System.Tests.Infrastructure;

/// <summary>Headless Chromium run once per page, as a user's browser would load it.</summary>
internal static class Chromium
{
    private const int Attempts = 3;

    /// <summary>
    /// Runs Chromium with <paramref name="args"/>. A load Chromium itself gave up with ERR_NETWORK_CHANGED is run again:
    /// it aborts every load when the machine's interfaces change, and the other tests on the machine create network
    /// namespaces, veth pairs and containers all the time (fresh-clone CI saw an empty page so).
    /// </summary>
    public static async Task<ProcessResult> RunAsync(IReadOnlyList<string> args, TimeSpan timeout)
    {
        ProcessResult result = null!;
        for (int attempt = 1; attempt <= Attempts; attempt++)
        {
            result = await TestProcess.RunAsync("/usr/bin/chromium", [.. args], timeout: timeout);
            if (!result.StandardError.Contains("net::ERR_NETWORK_CHANGED", StringComparison.Ordinal))
                break;
        }
        return result;
    }
}
