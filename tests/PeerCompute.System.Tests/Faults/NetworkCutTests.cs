using System.Diagnostics;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Faults;

/// <summary>
/// The provider's link to the gateway is cut (the gateway runs in a test-made namespace joined by a veth;
/// the host end goes down) and restored: the tunnel notices, the gateway answers 502/503 meanwhile instead of
/// hanging, and after the restore the public URL works again without restarting anything.
/// </summary>
[NotInParallel("system")]
public class NetworkCutTests
{
    [Test]
    public async Task A_cut_link_gives_502_or_503_and_the_url_comes_back_after_restore()
    {
        await using var ns = await NetworkNamespace.CreateAsync();
        await ns.ConnectAsync();
        await using var rig = await TunnelRig.StartAsync(launch => launch with { Wrapper = ns.Exec, Listen = "0.0.0.0" }, ns.InsideAddress);
        // Public clients reach the gateway inside its namespace (curl maps *.localhost to the namespace's loopback).
        async Task<(string Code, TimeSpan Took)> Public()
        {
            var watch = Stopwatch.StartNew();
            var curl = await TestProcess.RunAsync(ns.Exec[0], [.. ns.Exec[1..], "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "30", "--cacert", rig.Gateway.CertificateFile, rig.PublicUrl]);
            return (curl.StandardOutput.Trim(), watch.Elapsed);
        }
        await Assert.That((await Public()).Code).IsEqualTo("200");
        int gatewayPid = rig.Gateway.Process.Id;
        int providerPid = rig.Daemon.Process.Id;

        var cutAt = Stopwatch.StartNew();
        await ns.CutAsync();
        // Meanwhile the gateway answers, promptly enough, with "provider unavailable".
        var answers = new List<(string Code, TimeSpan Took)>();
        while (answers.Count == 0 || answers[^1].Code == "200")
        {
            answers.Add(await Public());
            await Assert.That(cutAt.Elapsed).IsLessThan(TimeSpan.FromSeconds(90));
        }
        var refusal = answers[^1];
        await Assert.That(refusal.Code).IsIn(["502", "503"]);
        await Assert.That(refusal.Took).IsLessThan(TimeSpan.FromSeconds(29));
        await rig.Daemon.Process.WaitForLineAsync(l => l.Contains("gateway tunnel down", StringComparison.Ordinal), TimeSpan.FromSeconds(60));
        var noticed = cutAt.Elapsed;
        var stillRefused = await Public();
        await Assert.That(stillRefused.Code).IsIn(["502", "503"]);

        await ns.RestoreAsync();
        var restoredAt = cutAt.Elapsed;
        await rig.Daemon.Process.WaitForLineAsync(l => l.Contains("gateway tunnel connected", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
        var reconnected = cutAt.Elapsed;
        await Assert.That((await Public()).Code).IsEqualTo("200");
        // Nothing was restarted.
        await Assert.That(rig.Gateway.Process.Id).IsEqualTo(gatewayPid);
        await Assert.That(rig.Daemon.Process.Id).IsEqualTo(providerPid);
        Console.WriteLine($"cut: answers {string.Join(", ", answers.Select(a => $"{a.Code} in {a.Took.TotalSeconds:0.0} s"))}; provider noticed after {noticed.TotalSeconds:0.0} s; " +
            $"restored at {restoredAt.TotalSeconds:0.0} s, tunnel back after {(reconnected - restoredAt).TotalSeconds:0.0} s");
    }
}
