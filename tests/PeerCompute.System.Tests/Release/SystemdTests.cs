using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Release;

/// <summary>
/// build/systemd/*.service: hardened, restarted on failure, Type=notify; and the programs really send READY=1 and
/// STOPPING=1 to $NOTIFY_SOCKET, which a Type=notify unit waits for (systemd itself is not needed to check that).
/// </summary>
internal sealed partial class SystemdTests
{
    [Test]
    [Arguments("peercomputed.service", "peercomputed")]
    [Arguments("gateway.service", "gateway")]
    public async Task Unit_is_hardened_notify_typed_and_runs_the_installed_program_with_options_it_knows(string unit, string program)
    {
        var service = ServiceSection(await File.ReadAllTextAsync(ReleaseScripts.Script($"systemd/{unit}")));

        await Assert.That(service["Type"]).IsEqualTo("notify");
        await Assert.That(service["Restart"]).IsEqualTo("on-failure");
        await Assert.That(service["User"]).IsNotEqualTo("root");
        await Assert.That(service["NoNewPrivileges"]).IsEqualTo("yes");
        await Assert.That(service["ProtectSystem"]).IsEqualTo("strict");
        await Assert.That(service["ProtectHome"]).IsEqualTo("yes");
        await Assert.That(service["PrivateTmp"]).IsEqualTo("yes");
        await Assert.That(service["StateDirectory"]).IsNotEmpty();
        await Assert.That(service["Environment"]).IsEqualTo($"PEERCOMPUTE_HOME=/var/lib/{service["StateDirectory"]}");

        string exec = service["ExecStart"];
        await Assert.That(exec.Split(' ')[0]).IsEqualTo($"/usr/local/bin/{program}");
        var help = await TestProcess.RunAsync(Artifacts.PathOf(Artifacts.LinuxX64, program), ["--help"]);
        foreach (Match option in OptionName().Matches(exec))
            await Assert.That(help.StandardOutput).Contains(option.Value + " ");
    }

    [Test]
    public async Task Gateway_notifies_ready_once_listening_and_stopping_on_SIGTERM()
    {
        await using var notify = new NotifySocket();
        string home = ReleaseScripts.NewFolder("gateway-notify");
        await using var gateway = await GatewayProgram.StartAsync(new GatewayLaunch(Artifacts.PathOf(Artifacts.LinuxX64, "gateway"), "notify.localhost", ["--self-signed"])
        {
            ExtraArgs = ["--open"],
            Environment = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = home, ["NOTIFY_SOCKET"] = notify.Path },
        });

        await Assert.That(await notify.ReceiveAsync()).IsEqualTo("READY=1").Because(gateway.Process.Output);
        gateway.Process.Signal(Posix.SIGTERM);
        await Assert.That(await notify.ReceiveAsync()).IsEqualTo("STOPPING=1");
        await Assert.That(await gateway.Process.WaitForExitAsync(TimeSpan.FromSeconds(60))).IsEqualTo(0);
    }

    [Test]
    [NotInParallel("system")]
    public async Task Provider_notifies_ready_once_serving_and_stopping_on_SIGTERM()
    {
        await using var notify = new NotifySocket();
        using var node = await PeerNode.CreateAsync("notify");
        var env = new Dictionary<string, string?>(node.Environment) { ["NOTIFY_SOCKET"] = notify.Path };
        await using var provider = TestProcess.Start(PeerNode.Peercomputed, ["--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns"], env);

        await Assert.That(await notify.ReceiveAsync()).IsEqualTo("READY=1").Because(provider.Output);
        await provider.WaitForLineAsync(l => l.Contains(" ready: ", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
        provider.Signal(Posix.SIGTERM);
        await Assert.That(await notify.ReceiveAsync()).IsEqualTo("STOPPING=1");
        await Assert.That(await provider.WaitForExitAsync(TimeSpan.FromSeconds(60))).IsEqualTo(0);
    }

    /// <summary>The [Service] section's Key=Value lines (a later line wins, as in systemd for these keys).</summary>
    private static Dictionary<string, string> ServiceSection(string text)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string section = "";
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
                continue;
            if (line[0] == '[')
            {
                section = line;
                continue;
            }
            int eq = line.IndexOf('=');
            if (section == "[Service]" && eq > 0)
                values[line[..eq]] = line[(eq + 1)..];
        }
        return values;
    }

    [GeneratedRegex(@"--[a-z][a-z-]+")]
    private static partial Regex OptionName();

    /// <summary>What systemd listens on for a Type=notify service: a datagram socket named by $NOTIFY_SOCKET.</summary>
    private sealed class NotifySocket : IAsyncDisposable
    {
        private readonly Socket _socket = new(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        private readonly string _folder = ReleaseScripts.NewFolder("notify");

        public NotifySocket()
        {
            Path = global::System.IO.Path.Combine(_folder, "notify.sock");
            _socket.Bind(new UnixDomainSocketEndPoint(Path));
        }

        public string Path { get; }

        /// <summary>The next datagram; the timeout only guards against a hang.</summary>
        public async Task<string> ReceiveAsync()
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            var buffer = new byte[4096];
            try
            {
                int read = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                return Encoding.UTF8.GetString(buffer, 0, read).Trim();
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"nothing sent to $NOTIFY_SOCKET ({Path}) within 90 s: the program does not notify systemd.");
            }
        }

        public ValueTask DisposeAsync()
        {
            _socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
