using PeerCompute.Runtime.Readiness;

namespace PeerCompute.Runtime.Tests.Unit;

/// <summary>The kernel's socket tables, as a container's /proc/&lt;pid&gt;/net/tcp{,6} show them, to the ports it listens on.</summary>
public sealed class ListeningPortsTests
{
    // A busybox httpd on 8080 (tcp6, any address), the engine's resolver on 127.0.0.11, an accepted connection.
    private const string Tcp =
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
        "   0: 0B00007F:B6DF 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3777173 1 000000005aece632 100 0 0 10 0\n" +
        "   1: 020012AC:1F90 010012AC:AEAC 01 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000037700ef1\n";

    private const string Tcp6 =
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
        "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3777550 1 000000002d7e60c7 100 0 0 10 0\n" +
        "   1: 00000000000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3777551 1 000000002d7e60c7 100 0 0 10 0\n" +
        "   2: 0000000000000000FFFF0000020012AC:1F90 0000000000000000FFFF0000010012AC:AEAC 06 00000000:00000000 03:00001767 00000000     0        0 0 3 0000000037700ef1\n";

    [Test]
    public async Task Connections_to_a_port_are_counted_established_but_not_listening_or_time_wait()
    {
        // Tcp: one established connection to 8080 (0x1F90); Tcp6: a listener on 8080 and one in TIME_WAIT (06).
        await Assert.That(ListeningPorts.CountConnections(Tcp, 8080)).IsEqualTo(1);
        await Assert.That(ListeningPorts.CountConnections(Tcp6, 8080)).IsEqualTo(0);
        await Assert.That(ListeningPorts.CountConnections(Tcp, 80)).IsEqualTo(0);
    }

    [Test]
    public async Task Listening_sockets_count_and_connections_do_not()
        => await Assert.That(ListeningPorts.Parse(Tcp6)).IsEquivalentTo([8080]);

    [Test]
    public async Task Sockets_bound_to_loopback_are_left_out()
    {
        await Assert.That(ListeningPorts.Parse(Tcp)).IsEmpty(); // 127.0.0.11: the engine's resolver
        await Assert.That(ListeningPorts.Parse(Tcp6)).DoesNotContain(80); // ::1
    }

    [Test]
    public async Task An_ipv4_listener_on_any_address_counts()
        => await Assert.That(ListeningPorts.Parse(Tcp + "   2: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n")).IsEquivalentTo([9090]);

    [Test]
    public async Task Garbage_gives_no_ports()
    {
        await Assert.That(ListeningPorts.Parse("")).IsEmpty();
        await Assert.That(ListeningPorts.Parse("header\n   0: nonsense 0A\n   1: 00000000:ZZZZ 00000000:0000 0A\n")).IsEmpty();
    }

    [Test]
    public async Task A_process_that_does_not_exist_has_no_ports()
        => await Assert.That(ListeningPorts.Read(int.MaxValue)).IsEmpty();
}
