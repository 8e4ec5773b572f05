using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using PeerCompute.Tunnel.Tests.Support;

namespace PeerCompute.Tunnel.Tests;

public class GatewayStartupTests
{
    [Test]
    public async Task A_port_in_use_is_one_clear_error_line_and_exit_code_1()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string home = Directory.CreateTempSubdirectory("pc-gateway-port-").FullName;
        try
        {
            var info = new ProcessStartInfo(GatewayProcess.ExecutablePath)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment = { ["PEERCOMPUTE_HOME"] = home },
            };
            foreach (string arg in new[] { "--domain", "port.localhost", "--self-signed", "--listen", "127.0.0.1", "--https-port", port.ToString(), "--tunnel-port", GatewayProcess.FreePort().ToString(), "--open" })
                info.ArgumentList.Add(arg);
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
            string output = await stdout + await stderr;

            await Assert.That(process.ExitCode).IsEqualTo(1);
            await Assert.That(output).Contains($"127.0.0.1:{port}").And.Contains("address already in use");
            await Assert.That(output).DoesNotContain("   at "); // no stack trace
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }
}
