using System.Net;
using PeerCompute.Core.Identity;
using PeerCompute.Tunnel.Client;
using PeerCompute.Tunnel.Tls;

// TunnelLoad provide <gateway-port> <pin> <name> <upstream-port>   one provider serving NAME -> 127.0.0.1:UPSTREAM
// TunnelLoad idle <gateway-port> <pin> <count>                      COUNT providers, connected and idle
// Prints "ready ..." once connected, then runs until SIGTERM or Ctrl+C.
if (args.Length < 4)
{
    Console.Error.WriteLine("usage: TunnelLoad provide PORT PIN NAME UPSTREAM_PORT | idle PORT PIN COUNT");
    return 2;
}
int port = int.Parse(args[1]);
var pin = CertificatePin.Parse(args[2]);
using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.Cancel();

TunnelClient NewClient(PeerIdentity identity, Func<string, CancellationToken, ValueTask<IPEndPoint?>> resolve) =>
    new(identity, new TunnelClientOptions { GatewayHost = "127.0.0.1", GatewayPort = port, Pin = pin }, resolve);

if (args[0] == "provide")
{
    string name = args[3];
    var upstream = new IPEndPoint(IPAddress.Loopback, int.Parse(args[4]));
    await using var client = NewClient(PeerIdentity.Generate(), (n, _) => ValueTask.FromResult<IPEndPoint?>(n == name ? upstream : null));
    client.SetRoutes([name]);
    var run = client.RunAsync(stop.Token);
    await client.WaitForAsync(s => s.State == TunnelState.Connected && s.Routes.Count > 0, stop.Token);
    Console.WriteLine($"ready {client.GetPublicUrl(name)}");
    await run;
    return 0;
}
if (args[0] == "idle")
{
    int count = int.Parse(args[3]);
    var clients = new List<TunnelClient>();
    var runs = new List<Task>();
    for (int i = 0; i < count; i++)
    {
        var client = NewClient(PeerIdentity.Generate(), (_, _) => ValueTask.FromResult<IPEndPoint?>(null));
        client.SetRoutes([$"idle{i}"]);
        clients.Add(client);
        runs.Add(client.RunAsync(stop.Token));
        // Do not open 1000 handshakes at once: the gateway limits pending handshakes (by design).
        if (i % 50 == 49)
            await Task.WhenAll(clients.Skip(i - 49).Select(c => c.WaitForAsync(s => s.State == TunnelState.Connected, stop.Token)));
    }
    await Task.WhenAll(clients.Select(c => c.WaitForAsync(s => s.State == TunnelState.Connected && s.Routes.Count > 0, stop.Token)));
    Console.WriteLine($"ready {count}");
    await Task.WhenAll(runs);
    return 0;
}
Console.Error.WriteLine($"unknown mode {args[0]}");
return 2;
