using System.Net.Sockets;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Mux;
using PeerCompute.Net.Host;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Transport;

namespace PeerCompute.Net.Tests.Nat;

/// <summary>
/// A provider's network goes quiet (its router drops everything, as a dead uplink or a changed network would: no reset,
/// no close), then comes back: yamux's keep-alive notices the dead link, the reservation is reported lost, and the
/// provider reserves again by itself once packets flow, without anyone restarting anything.
/// </summary>
public class RelayOutageTests
{
    private const int TestTimeoutMs = 180_000;
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(90);

    [Test, Timeout(TestTimeoutMs)]
    public async Task After_a_silent_outage_of_its_network_the_provider_reserves_again_by_itself(CancellationToken cancellationToken)
    {
        await using var lab = await NatLab.CreateAsync(new NatLabOptions(), cancellationToken);
        var inPublic = new TcpTransport
        {
            SocketFactory = family => lab.RunInNamespaceAsync(lab.PublicNamespace, () => new Socket(family, SocketType.Stream, ProtocolType.Tcp)).GetAwaiter().GetResult(),
        };
        await using var relay = new Libp2pHost(PeerIdentity.Generate(), null, null, [inPublic]);
        var relayAddress = (await relay.ListenAsync(Multiaddr.Parse($"/ip4/{lab.PublicHostAddress}/tcp/0"), cancellationToken)).WithPeerId(relay.PeerId);
        await using var server = new CircuitRelayServer(relay, new CircuitRelayOptions { MayReserve = _ => true });
        // A short keep-alive so that the dead link is noticed in seconds, not the default minute and a half.
        await using var provider = new Libp2pHost(PeerIdentity.Generate(), new Libp2pHostOptions
        {
            Yamux = new YamuxOptions { KeepAliveInterval = TimeSpan.FromSeconds(1), DeadLinkTimeout = TimeSpan.FromSeconds(3) },
        });
        var first = await provider.ListenThroughRelayAsync(relayAddress, cancellationToken).WaitAsync(Guard, cancellationToken);
        var lost = new TaskCompletionSource<RelayReservationState>(TaskCreationOptions.RunContinuationsAsynchronously);
        var again = new TaskCompletionSource<RelayReservationState>(TaskCreationOptions.RunContinuationsAsynchronously);
        provider.RelayReservationChanged += state =>
        {
            if (!state.IsReserved)
                lost.TrySetResult(state);
            else if (lost.Task.IsCompleted)
                again.TrySetResult(state);
        };

        string[] router = [.. NatLab.Exec(lab.HostRouterNamespace)[1..]];
        await RunAsync("nsenter", [.. router, "iptables", "-I", "FORWARD", "1", "-j", "DROP"]);
        var whileDown = await lost.Task.WaitAsync(Guard, cancellationToken);
        await RunAsync("nsenter", [.. router, "iptables", "-D", "FORWARD", "1"]);
        var back = await again.Task.WaitAsync(Guard, cancellationToken);

        await Assert.That(first.IsReserved).IsTrue();
        await Assert.That(whileDown.LastError).IsNotNull();
        await Assert.That(back.IsReserved).IsTrue();
        await Assert.That(server.HasReservation(provider.PeerId)).IsTrue();
    }

    private static async Task RunAsync(string program, string[] args)
    {
        var result = await TestProcess.RunAsync(program, args, timeout: TimeSpan.FromSeconds(30));
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)}: {result}");
    }
}
