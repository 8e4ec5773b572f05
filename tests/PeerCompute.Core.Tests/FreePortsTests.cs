using System.Globalization;
using System.Net;
using System.Net.Sockets;
using PeerCompute.Testing;

namespace PeerCompute.Core.Tests;

/// <summary>
/// The ports tests give their programs: an outgoing connection must never be able to take one between the check and the
/// program's bind (CI failed on "address already in use" when they came from the ephemeral range).
/// </summary>
public sealed class FreePortsTests
{
    [Test]
    public async Task Ports_are_distinct_outside_the_kernels_ephemeral_range_and_bindable_for_tcp_and_udp()
    {
        string[] range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        int low = int.Parse(range[0], CultureInfo.InvariantCulture), high = int.Parse(range[1], CultureInfo.InvariantCulture);

        int[] ports = FreePorts.Many(64);

        await Assert.That(ports.Distinct().Count()).IsEqualTo(64);
        foreach (int port in ports)
        {
            await Assert.That(port < low || port > high).IsTrue().Because($"{port} is in the ephemeral range {low}-{high}");
            using var tcp = new TcpListener(IPAddress.Loopback, port);
            tcp.Start();
            using var udp = new UdpClient(new IPEndPoint(IPAddress.Loopback, port));
        }
    }
}
