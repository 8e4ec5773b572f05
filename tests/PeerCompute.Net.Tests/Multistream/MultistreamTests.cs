using System.Buffers;
using PeerCompute.Net.Multistream;
using PeerCompute.Net.Tests.Support;

namespace PeerCompute.Net.Tests.Multistream;

public class MultistreamTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Test]
    [Arguments("/multistream/1.0.0", "132f6d756c746973747265616d2f312e302e300a")]
    [Arguments("/noise", "072f6e6f6973650a")]
    [Arguments("/yamux/1.0.0", "0d2f79616d75782f312e302e300a")]
    [Arguments("na", "036e610a")]
    [Arguments("ls", "036c730a")]
    public async Task Messages_match_the_wire_vectors(string text, string hex)
    {
        await Assert.That(Hex.Of(MultistreamMessage.Encode(text))).IsEqualTo(hex);
        await Assert.That(MultistreamMessage.TryParse(Hex.Bytes(hex), out var parsed, out int consumed)).IsEqualTo(OperationStatus.Done);
        await Assert.That(parsed).IsEqualTo(text);
        await Assert.That(consumed).IsEqualTo(hex.Length / 2);
    }

    [Test]
    public async Task A_truncated_message_needs_more_data()
    {
        await Assert.That(MultistreamMessage.TryParse(Hex.Bytes("072f6e6f69"), out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
        await Assert.That(MultistreamMessage.TryParse(Hex.Bytes("88"), out _, out _)).IsEqualTo(OperationStatus.NeedMoreData);
    }

    [Test]
    [Arguments("00", "empty")]
    [Arguments("036e6178", "newline")]
    [Arguments("8110", "limit")]
    public async Task Bad_messages_are_refused(string hex, string reason)
    {
        var error = Assert.Throws<Libp2pProtocolException>(() => MultistreamMessage.TryParse(Hex.Bytes(hex), out _, out _));
        await Assert.That(error!.Message).Contains(reason);
    }

    [Test]
    public async Task The_ls_answer_nests_one_message_per_protocol()
    {
        var bytes = MultistreamMessage.EncodeList(["/a", "/bc"]);
        // outer length 9 = (1+3) + (1+4) ... + final newline
        await Assert.That(Hex.Of(bytes)).IsEqualTo("0a" + "032f610a" + "042f62630a" + "0a");
    }

    [Test]
    public async Task Initiator_sends_header_and_proposal_in_one_write_and_falls_back_after_na()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var selecting = MultistreamSelect.SelectAsync(a, ["/x/1", "/noise"], CancellationToken.None);
        var first = new byte[MultistreamMessage.Encode(MultistreamMessage.Header, "/x/1").Length];
        await b.ReadExactlyAsync(first).AsTask().WaitAsync(Guard);
        await Assert.That(Hex.Of(first)).IsEqualTo(Hex.Of(MultistreamMessage.Encode(MultistreamMessage.Header, "/x/1")));
        await b.WriteAsync(MultistreamMessage.Encode(MultistreamMessage.Header, "na"));
        var second = new byte[8];
        await b.ReadExactlyAsync(second).AsTask().WaitAsync(Guard);
        await Assert.That(Hex.Of(second)).IsEqualTo("072f6e6f6973650a");
        await b.WriteAsync(MultistreamMessage.Encode("/noise"));
        await Assert.That(await selecting.WaitAsync(Guard)).IsEqualTo("/noise");
    }

    [Test]
    public async Task Responder_accepts_coalesced_input_and_leaves_the_following_bytes_unread()
    {
        var (a, b) = DuplexPipe.CreatePair();
        // A lazy dialer: header, an unknown proposal, ls, a known proposal and application data in one write.
        var input = MultistreamMessage.Encode(MultistreamMessage.Header, "/unknown", "ls", "/echo").Concat("APP"u8.ToArray()).ToArray();
        await b.WriteAsync(input);
        var selected = await MultistreamSelect.RespondAsync(a, ["/echo", "/other"], CancellationToken.None).WaitAsync(Guard);
        await Assert.That(selected).IsEqualTo("/echo");

        var app = new byte[3];
        await a.ReadExactlyAsync(app).AsTask().WaitAsync(Guard);
        await Assert.That(System.Text.Encoding.ASCII.GetString(app)).IsEqualTo("APP");

        var expected = MultistreamMessage.Encode(MultistreamMessage.Header, "na")
            .Concat(MultistreamMessage.EncodeList(["/echo", "/other"]))
            .Concat(MultistreamMessage.Encode("/echo")).ToArray();
        var answer = new byte[expected.Length];
        await b.ReadExactlyAsync(answer).AsTask().WaitAsync(Guard);
        await Assert.That(Hex.Of(answer)).IsEqualTo(Hex.Of(expected));
    }

    [Test]
    public async Task Responder_refuses_garbage_instead_of_a_header()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await b.WriteAsync("GET / HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray().Concat(new byte[100]).ToArray());
        await Assert.That(async () => await MultistreamSelect.RespondAsync(a, ["/noise"], CancellationToken.None).WaitAsync(Guard))
            .Throws<Libp2pProtocolException>();
    }

    [Test]
    public async Task Responder_refuses_an_oversized_message_without_reading_it()
    {
        var (a, b) = DuplexPipe.CreatePair();
        await b.WriteAsync(Hex.Bytes("ffff03"));
        await Assert.That(async () => await MultistreamSelect.RespondAsync(a, ["/noise"], CancellationToken.None).WaitAsync(Guard))
            .Throws<Libp2pProtocolException>();
    }

    [Test]
    public async Task Initiator_fails_when_nothing_is_supported()
    {
        var (a, b) = DuplexPipe.CreatePair();
        var responding = MultistreamSelect.RespondAsync(b, ["/other"], CancellationToken.None);
        var error = await Assert.That(async () => await MultistreamSelect.SelectAsync(a, "/wanted", CancellationToken.None).WaitAsync(Guard))
            .Throws<Libp2pProtocolException>();
        await Assert.That(error!.Message).Contains("/wanted");
        a.Dispose();
        await Assert.That(await responding.WaitAsync(Guard)).IsNull();
    }
}
