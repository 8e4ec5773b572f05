using System.Net.Sockets;
using PeerCompute.Runtime.Routes;
using PeerCompute.Runtime.Tests.Infrastructure;

namespace PeerCompute.Runtime.Tests.Docker;

/// <summary>
/// A public request asks the runtime where a route answers (and the gateway's route list is built the same way):
/// through a proxy on the engine socket that counts every byte the runtime sends the engine, N such requests
/// must send none, while the table still follows a container the engine loses and a restart's adoption.
/// </summary>
public sealed class PublicRouteEngineCallTests
{
    private const string Owner = "12D3KooWOwnerPublicRoutes";
    private const int Requests = 25;

    [Test]
    public async Task Public_requests_resolve_from_the_route_table_and_make_no_engine_call()
    {
        await using var proxy = CountingEngineProxy.Start("/var/run/docker.sock");
        await using var harness = await RuntimeHarness.StartAsync(o => o with { DockerEndpoint = proxy.Endpoint });
        var runtime = harness.Runtime;
        var deployed = await runtime.DeployAsync(RuntimeHarness.Busybox("counted", RuntimeHarness.Shell(RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);

        long before = proxy.RequestBytes;
        await Assert.That(before).IsGreaterThan(0L); // the proxy really is the runtime's way to the engine
        for (int i = 0; i < Requests; i++)
        {
            await Assert.That(PublicRoutes.Names(runtime)).Contains("counted");
            var upstream = await PublicRoutes.ResolveAsync(runtime, "counted", CancellationToken.None);
            await Assert.That(upstream).IsNotNull();
            await Assert.That(upstream!.Port).IsEqualTo(deployed.HostPort!.Value);
            await Http.GetWhenReadyAsync(upstream.Port);
            await Assert.That(await PublicRoutes.ResolveAsync(runtime, "not-deployed", CancellationToken.None)).IsNull();
        }
        await Assert.That(proxy.RequestBytes).IsEqualTo(before);
    }

    [Test]
    public async Task The_table_adopts_routes_at_start_and_drops_a_container_the_engine_lost()
    {
        await using var proxy = CountingEngineProxy.Start("/var/run/docker.sock");
        await using var harness = await RuntimeHarness.StartAsync(o => o with { DockerEndpoint = proxy.Endpoint });
        var deployed = await harness.Runtime.DeployAsync(RuntimeHarness.Busybox("adopted", RuntimeHarness.Shell(RuntimeHarness.ServeHttp)), Owner);
        await Http.GetWhenReadyAsync(deployed.HostPort!.Value);

        // A restarted provider: routes come back from the start's reconcile, before any request.
        await harness.Runtime.DisposeAsync();
        var restarted = await harness.OpenRuntimeAsync();
        var adopted = await PublicRoutes.ResolveAsync(restarted, "adopted", CancellationToken.None);
        await Assert.That(adopted?.Port).IsEqualTo(deployed.HostPort!.Value);

        // The engine stops the container behind the runtime's back: the next reconcile withdraws the route.
        (await Cli.DockerAsync("stop", "-t", "0", deployed.ContainerId!)).EnsureSuccess("docker stop");
        await restarted.ReconcileAsync();
        await Assert.That(await PublicRoutes.ResolveAsync(restarted, "adopted", CancellationToken.None)).IsNull();
        await Assert.That(PublicRoutes.Names(restarted)).DoesNotContain("adopted");
    }

    /// <summary>Forwards a Unix socket to the engine's and counts the bytes sent towards the engine.</summary>
    private sealed class CountingEngineProxy : IAsyncDisposable
    {
        private readonly Socket _listener;
        private readonly string _target;
        private readonly string _folder;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;
        private long _requestBytes;

        private CountingEngineProxy(string target)
        {
            _target = target;
            // Short path: Unix socket paths are limited to 108 bytes.
            _folder = Path.Combine("/tmp", "pcep-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(_folder);
            string path = Path.Combine(_folder, "engine.sock");
            Endpoint = "unix://" + path;
            _listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            _listener.Bind(new UnixDomainSocketEndPoint(path));
            _listener.Listen(64);
            _accepting = AcceptAsync();
        }

        public string Endpoint { get; }
        public long RequestBytes => Interlocked.Read(ref _requestBytes);

        public static CountingEngineProxy Start(string target) => new(target);

        private async Task AcceptAsync()
        {
            var connections = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptAsync(_stop.Token);
                    connections.Add(ServeAsync(client));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
            await Task.WhenAll(connections);
        }

        private async Task ServeAsync(Socket client)
        {
            using var _ = client;
            using var engine = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await engine.ConnectAsync(new UnixDomainSocketEndPoint(_target), _stop.Token);
                await Task.WhenAll(CopyAsync(client, engine, count: true), CopyAsync(engine, client, count: false));
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        }

        private async Task CopyAsync(Socket from, Socket to, bool count)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                while (true)
                {
                    int read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (read == 0)
                        break;
                    if (count)
                        Interlocked.Add(ref _requestBytes, read);
                    await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
                }
                to.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                from.Dispose();
                to.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Dispose();
            await _accepting;
            _stop.Dispose();
            Directory.Delete(_folder, recursive: true);
        }
    }
}
