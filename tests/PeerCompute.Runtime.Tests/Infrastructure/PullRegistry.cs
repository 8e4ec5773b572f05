namespace PeerCompute.Runtime.Tests.Infrastructure;

/// <summary>The pull tests' <see cref="LocalRegistry"/>: open and private endpoints, fresh images built from the test image.</summary>
internal static class PullRegistry
{
    public static async Task<LocalRegistry> StartAsync()
    {
        await TestEngine.EnsureReadyAsync();
        // TestEngine.SweepAsync removes what was pulled back by this prefix.
        return await LocalRegistry.StartAsync(TestEngine.BusyboxImage, "peercompute-test/pulled-", withPrivateEndpoint: true);
    }

    /// <summary>A runtime that may pull from the registry's endpoints (on loopback, which is refused unless allowed).</summary>
    public static Func<RuntimeOptions, RuntimeOptions> Allowed(LocalRegistry registry)
        => o => o with { AllowedRegistries = [registry.Open, registry.Private] };
}
