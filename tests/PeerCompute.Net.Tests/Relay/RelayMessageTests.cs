using System.Buffers;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Relay;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Relay;

/// <summary>Circuit relay v2 hop and stop messages: hand-built vectors, round trips and what is refused.</summary>
public class RelayMessageTests
{
    // Peer ids as multihash bytes: identity multihash 00 24 ‖ the 36-byte public key protobuf 08 01 12 20 ‖ key.
    private const string FirstMultihash = "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";
    private const string OnesMultihash = "0024080112208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

    private static readonly PeerId First = PeerId.Parse(Vectors.FirstPeerId);
    private static readonly PeerId Ones = PeerId.Parse(Vectors.SeedOnesPeerId);

    private static HopMessage Hop(string hex) =>
        HopMessage.TryDecode(Hex.Bytes(hex), out var message, out string? error) ? message : throw new InvalidOperationException(error);

    private static StopMessage Stop(string hex) =>
        StopMessage.TryDecode(Hex.Bytes(hex), out var message, out string? error) ? message : throw new InvalidOperationException(error);

    [Test]
    public async Task Reserve_writes_its_zero_type()
    {
        // Field 1 varint (tag 08) = 0: explicit presence, so RESERVE is not the empty message.
        await Assert.That(Hex.Of(new HopMessage(HopMessageType.Reserve).Encode())).IsEqualTo("0800");
        var decoded = Hop("0800");
        await Assert.That(decoded.Type).IsEqualTo(HopMessageType.Reserve);
        await Assert.That(decoded.Peer).IsNull();
        await Assert.That(decoded.Reservation).IsNull();
        await Assert.That(decoded.Limit).IsNull();
        await Assert.That(decoded.Status).IsNull();
    }

    [Test]
    public async Task Status_ok_is_type_2_and_status_100()
    {
        // 08 02 = type STATUS; 28 64 = field 5 varint, 100.
        await Assert.That(Hex.Of(new HopMessage(HopMessageType.Status, Status: RelayStatus.Ok).Encode())).IsEqualTo("08022864");
        var decoded = Hop("08022864");
        await Assert.That(decoded.Type).IsEqualTo(HopMessageType.Status);
        await Assert.That(decoded.Status).IsEqualTo(RelayStatus.Ok);
    }

    [Test]
    public async Task Connect_names_the_target_peer()
    {
        // 12 28 = field 2 (peer), 40 bytes: 0a 26 = field 1 (id), 38 bytes of multihash.
        string hex = "0801" + "1228" + "0a26" + OnesMultihash;
        await Assert.That(Hex.Of(new HopMessage(HopMessageType.Connect, new RelayPeer(Ones, [])).Encode())).IsEqualTo(hex);
        var decoded = Hop(hex);
        await Assert.That(decoded.Type).IsEqualTo(HopMessageType.Connect);
        await Assert.That(decoded.Peer!.Id).IsEqualTo(Ones);
        await Assert.That(decoded.Peer.Addresses).IsEmpty();
    }

    [Test]
    public async Task Reservation_status_matches_its_hand_built_bytes()
    {
        var relayAddress = Multiaddr.Parse($"/ip4/192.0.2.1/tcp/4001/p2p/{Vectors.FirstPeerId}");
        byte[] voucher = [0xaa, 0xbb];
        var message = new HopMessage(HopMessageType.Status,
            Reservation: new RelayReservation(1_700_000_000, [relayAddress], voucher),
            Limit: new RelayLimit(7200, 131072),
            Status: RelayStatus.Ok);
        // The address: 04 c0000201 (ip4) 06 0fa1 (tcp 4001) a503 26 ‖ multihash (p2p): 49 bytes = 0x31.
        string address = "04c0000201" + "060fa1" + "a50326" + FirstMultihash;
        // Reservation: 08 80e2cfaa06 (expire 1700000000) 12 31 ‖ address, 1a 02 aabb (voucher): 6 + 51 + 4 = 61 = 0x3d.
        string reservation = "0880e2cfaa06" + "1231" + address + "1a02aabb";
        // Limit: 08 a038 (duration 7200) 10 808008 (data 131072): 7 bytes.
        string limit = "08a038" + "10808008";
        string hex = "0802" + "1a3d" + reservation + "2207" + limit + "2864";
        await Assert.That(address.Length / 2).IsEqualTo(0x31);
        await Assert.That(Hex.Of(message.Encode())).IsEqualTo(hex);

        var decoded = Hop(hex);
        await Assert.That(decoded.Reservation!.ExpireUnixSeconds).IsEqualTo(1_700_000_000UL);
        await Assert.That(decoded.Reservation.Addresses.Single()).IsEqualTo(relayAddress);
        await Assert.That(Hex.Of(decoded.Reservation.Voucher!)).IsEqualTo("aabb");
        await Assert.That(decoded.Limit).IsEqualTo(new RelayLimit(7200, 131072));
        await Assert.That(decoded.Status).IsEqualTo(RelayStatus.Ok);
    }

    [Test]
    public async Task Stop_connect_carries_the_caller_and_the_limit()
    {
        // 08 00 = CONNECT (written though 0); 12 28 peer; 1a 06 limit { duration 120, data 131072 }.
        string hex = "0800" + "1228" + "0a26" + FirstMultihash + "1a06" + "0878" + "10808008";
        var message = new StopMessage(StopMessageType.Connect, new RelayPeer(First, []), new RelayLimit(120, 131072));
        await Assert.That(Hex.Of(message.Encode())).IsEqualTo(hex);
        var decoded = Stop(hex);
        await Assert.That(decoded.Type).IsEqualTo(StopMessageType.Connect);
        await Assert.That(decoded.Peer!.Id).IsEqualTo(First);
        await Assert.That(decoded.Limit).IsEqualTo(new RelayLimit(120, 131072));
        await Assert.That(decoded.Status).IsNull();
        // STATUS OK: 08 01, then field 4 varint (tag 20) 100.
        await Assert.That(Hex.Of(new StopMessage(StopMessageType.Status, Status: RelayStatus.Ok).Encode())).IsEqualTo("08012064");
        await Assert.That(Stop("08012064").Status).IsEqualTo(RelayStatus.Ok);
    }

    [Test]
    public async Task Round_trips_keep_every_field()
    {
        var addresses = new[] { Multiaddr.Parse("/ip4/198.51.100.7/tcp/9000"), Multiaddr.Parse("/ip6/::1/tcp/1") };
        var hop = new HopMessage(HopMessageType.Connect, new RelayPeer(First, addresses),
            new RelayReservation(ulong.MaxValue, addresses, []), new RelayLimit(uint.MaxValue, null), RelayStatus.PermissionDenied);
        var hopBack = Hop(Hex.Of(hop.Encode()));
        await Assert.That(hopBack.Peer!.Addresses.SequenceEqual(addresses)).IsTrue();
        await Assert.That(hopBack.Reservation!.ExpireUnixSeconds).IsEqualTo(ulong.MaxValue);
        await Assert.That(hopBack.Reservation.Voucher!.Length).IsEqualTo(0);
        await Assert.That(hopBack.Limit).IsEqualTo(new RelayLimit(uint.MaxValue, null));
        await Assert.That(hopBack.Status).IsEqualTo(RelayStatus.PermissionDenied);
        await Assert.That(Hex.Of(hopBack.Encode())).IsEqualTo(Hex.Of(hop.Encode()));

        foreach (var status in Enum.GetValues<RelayStatus>())
        {
            var stop = new StopMessage(StopMessageType.Status, Status: status);
            await Assert.That(Stop(Hex.Of(stop.Encode())).Status).IsEqualTo(status);
        }
    }

    [Test]
    [Arguments("")]            // nothing at all
    [Arguments("2864")]        // a status, no type
    [Arguments("1a00")]        // a reservation, no type
    public async Task A_message_without_type_is_invalid(string hex)
    {
        await Assert.That(HopMessage.TryDecode(Hex.Bytes(hex), out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("no type");
        await Assert.That(StopMessage.TryDecode(Hex.Bytes(hex), out _, out _)).IsFalse();
    }

    [Test]
    public async Task Unknown_types_are_invalid_and_unknown_statuses_are_kept()
    {
        await Assert.That(HopMessage.TryDecode(Hex.Bytes("0803"), out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("unknown message type 3");
        await Assert.That(StopMessage.TryDecode(Hex.Bytes("0802"), out _, out _)).IsFalse();
        await Assert.That(HopMessage.TryDecode(Hex.Bytes("08ffffffffffffffffff01"), out _, out _)).IsFalse();
        // 999 = e7 07: not a status this version names, kept as the number.
        await Assert.That(Hop("080228e707").Status).IsEqualTo((RelayStatus)999);
        await Assert.That(Hex.Of(Hop("080228e707").Encode())).IsEqualTo("080228e707");
        // A negative int32 goes as ten bytes and comes back.
        var negative = new HopMessage(HopMessageType.Status, Status: (RelayStatus)(-1));
        await Assert.That(Hex.Of(negative.Encode())).IsEqualTo("080228ffffffffffffffffff01");
        await Assert.That(Hop(Hex.Of(negative.Encode())).Status).IsEqualTo((RelayStatus)(-1));
    }

    [Test]
    [Arguments("08011200")]                 // a peer without id
    [Arguments("080112040a020102")]         // an id that is no multihash
    [Arguments("08011204120204c0")]         // only an address
    [Arguments("0801120a0a081220000000000000")] // sha2-256 of the wrong length
    public async Task A_bad_peer_is_invalid(string hex)
    {
        await Assert.That(HopMessage.TryDecode(Hex.Bytes(hex), out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("peer");
        await Assert.That(StopMessage.TryDecode(Hex.Bytes("0800" + hex[4..]), out _, out _)).IsFalse();
    }

    [Test]
    public async Task Unknown_fields_and_undecodable_addresses_are_skipped()
    {
        // 38 05: field 7 varint; 42 01 ff: field 8 bytes; 49 ‖ 8 bytes: field 9 fixed64. The peer (12 2c) holds its id
        // and an address 12 02 04c0, a truncated ip4, which is skipped.
        string hex = "0801" + "3805" + "4201ff" + "49" + "0102030405060708"
            + "122c" + "0a26" + OnesMultihash + "120204c0";
        var decoded = Hop(hex);
        await Assert.That(decoded.Type).IsEqualTo(HopMessageType.Connect);
        await Assert.That(decoded.Peer!.Id).IsEqualTo(Ones);
        await Assert.That(decoded.Peer.Addresses).IsEmpty();
    }

    [Test]
    [Arguments("0a00")]     // type as bytes
    [Arguments("080138ff")] // truncated varint in an unknown field
    [Arguments("0801120a")] // peer length beyond the input
    [Arguments("0801222a")] // limit length beyond the input
    [Arguments("08022a00")] // status as bytes
    [Arguments("0801122a")] // a peer whose length is beyond the input
    public async Task Malformed_protobuf_is_invalid_with_a_reason(string hex)
    {
        await Assert.That(HopMessage.TryDecode(Hex.Bytes(hex), out _, out string? error)).IsFalse();
        await Assert.That(error).IsNotNull();
    }

    [Test]
    public async Task A_limit_of_zero_means_no_limit()
    {
        var decoded = Hop("08022204" + "0800" + "1000");
        await Assert.That(decoded.Limit).IsEqualTo(new RelayLimit(null, null));
        await Assert.That(Hop("0802" + "2206" + "08ffffffff0f").Limit).IsEqualTo(new RelayLimit(uint.MaxValue, null));
        await Assert.That(HopMessage.TryDecode(Hex.Bytes("0802" + "2206" + "088080808010"), out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("over 32 bits");
    }

    [Test]
    public async Task Messages_over_4096_bytes_are_invalid()
    {
        // type RESERVE, then one unknown bytes field (tag 4a = field 9) padding the message to exactly the limit:
        // 4096 = 2 (type) + 1 (tag) + 2 (length fb 1f = 4091) + 4091.
        byte[] atLimit = [0x08, 0x00, 0x4a, 0xfb, 0x1f, .. new byte[4091]];
        await Assert.That(atLimit.Length).IsEqualTo(RelayProtocol.MaxMessageSize);
        await Assert.That(HopMessage.TryDecode(atLimit, out _, out _)).IsTrue();
        byte[] over = [0x08, 0x00, 0x4a, 0xfc, 0x1f, .. new byte[4092]];
        await Assert.That(HopMessage.TryDecode(over, out _, out string? error)).IsFalse();
        await Assert.That(error).Contains("over 4096");
        await Assert.That(StopMessage.TryDecode(over, out _, out _)).IsFalse();
    }
}

/// <summary>The uvarint length framing the relay and DCUtR streams use.</summary>
public class DelimitedMessageTests
{
    [Test]
    public async Task Every_prefix_needs_more_and_the_whole_frame_is_done()
    {
        byte[] body = new HopMessage(HopMessageType.Status, Status: RelayStatus.Ok).Encode();
        byte[] frame = [(byte)body.Length, .. body];
        for (int n = 0; n < frame.Length; n++)
        {
            await Assert.That(DelimitedMessage.TryRead(frame.AsSpan(0, n), RelayProtocol.MaxMessageSize, out _, out int consumed)).IsEqualTo(OperationStatus.NeedMoreData);
            await Assert.That(consumed).IsEqualTo(0);
        }
        await Assert.That(TryReadBody([.. frame, 0x42], RelayProtocol.MaxMessageSize, out string bodyHex, out int all)).IsEqualTo(OperationStatus.Done);
        await Assert.That(bodyHex).IsEqualTo("08022864");
        await Assert.That(all).IsEqualTo(frame.Length);
    }

    private static OperationStatus TryReadBody(byte[] input, int max, out string bodyHex, out int consumed)
    {
        var status = DelimitedMessage.TryRead(input, max, out var body, out consumed);
        bodyHex = Hex.Of(body);
        return status;
    }

    [Test]
    public async Task The_length_is_checked_from_the_prefix_alone()
    {
        // 8020 = 4096: at the limit, so the body is awaited.
        await Assert.That(DelimitedMessage.TryRead(Hex.Bytes("8020"), 4096, out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        // 8120 = 4097: over, before any body byte.
        await Assert.That(DelimitedMessage.TryRead(Hex.Bytes("8120"), 4096, out _, out _)).IsEqualTo(OperationStatus.InvalidData);
        // 80 80 …: two bytes with continuation already mean at least 16384.
        await Assert.That(DelimitedMessage.TryRead(Hex.Bytes("8080"), 4096, out _, out _)).IsEqualTo(OperationStatus.InvalidData);
        await Assert.That(DelimitedMessage.TryRead(Hex.Bytes("80"), 4096, out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        // Non-minimal prefix.
        await Assert.That(DelimitedMessage.TryRead(Hex.Bytes("8100"), 4096, out _, out _)).IsEqualTo(OperationStatus.InvalidData);
        // An empty body is a frame too.
        await Assert.That(DelimitedMessage.TryRead(Hex.Bytes("00"), 4096, out _, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That(consumed).IsEqualTo(1);
    }

    [Test]
    public async Task ReadAsync_takes_one_message_and_leaves_the_relayed_bytes()
    {
        byte[] first = new HopMessage(HopMessageType.Connect, new RelayPeer(PeerId.Parse(Vectors.FirstPeerId), [])).Encode();
        byte[] second = new HopMessage(HopMessageType.Status, Status: RelayStatus.Ok).Encode();
        byte[] raw = "/multistream/1.0.0\n"u8.ToArray();
        var stream = new MemoryStream([(byte)first.Length, .. first, (byte)second.Length, .. second, .. raw]);

        byte[] one = await DelimitedMessage.ReadAsync(stream, RelayProtocol.MaxMessageSize, CancellationToken.None);
        await Assert.That(Hex.Of(one)).IsEqualTo(Hex.Of(first));
        await Assert.That(stream.Position).IsEqualTo(1 + first.Length);
        byte[] two = await DelimitedMessage.ReadAsync(stream, RelayProtocol.MaxMessageSize, CancellationToken.None);
        await Assert.That(Hex.Of(two)).IsEqualTo("08022864");
        await Assert.That(stream.Position).IsEqualTo(2 + first.Length + second.Length);
        await Assert.That(stream.Length - stream.Position).IsEqualTo(raw.Length);
    }

    [Test]
    public async Task ReadAsync_refuses_an_oversize_length_without_reading_the_body()
    {
        var stream = new MemoryStream([0x81, 0x20, .. new byte[5000]]);
        var thrown = await Assert.That(async () => await DelimitedMessage.ReadAsync(stream, 4096, CancellationToken.None)).Throws<Libp2pProtocolException>();
        await Assert.That(thrown!.Message).Contains("over 4096");
        await Assert.That(stream.Position).IsEqualTo(2);
        var malformed = new MemoryStream([0x81, 0x00, 0x00]);
        await Assert.That(async () => await DelimitedMessage.ReadAsync(malformed, 4096, CancellationToken.None)).Throws<Libp2pProtocolException>();
    }

    [Test]
    [Arguments("")]
    [Arguments("80")]
    [Arguments("0408")]
    public async Task ReadAsync_on_a_stream_that_ends_early_is_a_protocol_error(string hex)
    {
        var thrown = await Assert.That(async () => await DelimitedMessage.ReadAsync(new MemoryStream(Hex.Bytes(hex)), 4096, CancellationToken.None)).Throws<Libp2pProtocolException>();
        await Assert.That(thrown!.Message).Contains("the stream ended before the message");
    }

    [Test]
    public async Task WriteAsync_is_one_write_of_prefix_and_body()
    {
        var target = new CountingStream();
        byte[] body = new byte[300];
        body[0] = 0x08;
        await DelimitedMessage.WriteAsync(target, body, CancellationToken.None);
        await Assert.That(target.Writes).IsEqualTo(1);
        // 300 = ac 02.
        await Assert.That(Hex.Of(target.ToArray().AsSpan(0, 3))).IsEqualTo("ac0208");
        await Assert.That(target.Length).IsEqualTo(302);
        target.Position = 0;
        byte[] back = await DelimitedMessage.ReadAsync(target, RelayProtocol.MaxMessageSize, CancellationToken.None);
        await Assert.That(back.AsSpan().SequenceEqual(body)).IsTrue();
    }

    /// <summary>Counts the writes it is given (a MemoryStream subclass would count its own internal forwarding too).</summary>
    private sealed class CountingStream : Stream
    {
        private readonly MemoryStream _inner = new();

        public int Writes { get; private set; }

        public byte[] ToArray() => _inner.ToArray();

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => true;
        public override long Length => _inner.Length;
        public override long Position { get => _inner.Position; set => _inner.Position = value; }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => _inner.Read(buffer, offset, count);
        public override long Seek(long offset, SeekOrigin origin) => _inner.Seek(offset, origin);
        public override void SetLength(long value) => _inner.SetLength(value);

        public override void Write(byte[] buffer, int offset, int count)
        {
            Writes++;
            _inner.Write(buffer, offset, count);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes++;
            _inner.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }
    }
}
