namespace PeerCompute.Tunnel.Tests.Support;

/// <summary>The one curl call the shared <see cref="Pebble"/> makes (the tunnel tests' Curl helper needs their gateway type).</summary>
internal static class Curl
{
    public static Task<ProcessResult> RunAsync(IEnumerable<string> args) => TestProcess.RunAsync("curl", ["-sS", .. args]);
}
