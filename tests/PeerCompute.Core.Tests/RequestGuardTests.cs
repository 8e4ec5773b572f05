using PeerCompute.Core.Identity;
using PeerCompute.Core.Protocol;

namespace PeerCompute.Core.Tests;

public class RequestGuardTests
{
    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    private static readonly DateTimeOffset T0 = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static (byte[] Frame, StopRequest Request, RequestSignature Signature) Signed(PeerIdentity signer, DateTimeOffset at, string? nonce = null)
    {
        var request = new StopRequest("web", at.ToUnixTimeMilliseconds(), nonce ?? RequestSigning.NewNonce());
        var frame = FrameCodec.Encode(FrameType.StopRequest, request, ProtocolJsonContext.Default.StopRequest);
        return (frame, request, RequestSigning.Sign(signer, frame));
    }

    private static RequestGuard GuardTrusting(PeerIdentity peer, ManualClock clock) =>
        new(id => id == peer.PeerId, clock: clock);

    [Test]
    public async Task A_signed_fresh_request_from_the_connected_trusted_peer_passes()
    {
        using var sam = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var (frame, request, signature) = Signed(sam, T0);
        await Assert.That(GuardTrusting(sam, clock).Check(sam.PeerId, frame, request, signature)).IsNull();
    }

    [Test]
    public async Task An_untrusted_peer_is_refused_first()
    {
        using var sam = PeerIdentity.Generate();
        using var stranger = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var (frame, request, signature) = Signed(stranger, T0);
        await Assert.That(GuardTrusting(sam, clock).Check(stranger.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.Untrusted);
    }

    [Test]
    public async Task An_unsigned_request_is_refused()
    {
        using var sam = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var (frame, request, _) = Signed(sam, T0);
        await Assert.That(GuardTrusting(sam, clock).Check(sam.PeerId, frame, request, null)!.Code).IsEqualTo(ErrorCodes.Unsigned);
    }

    [Test]
    public async Task A_changed_byte_breaks_the_signature()
    {
        using var sam = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var (frame, request, signature) = Signed(sam, T0);
        frame[^3] ^= 0x01;
        await Assert.That(GuardTrusting(sam, clock).Check(sam.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.BadSignature);
    }

    [Test]
    public async Task The_signature_is_bound_to_the_message_type()
    {
        using var sam = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var (frame, request, signature) = Signed(sam, T0);
        frame[0] = (byte)FrameType.StatusRequest;
        await Assert.That(GuardTrusting(sam, clock).Check(sam.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.BadSignature);
    }

    [Test]
    public async Task A_signature_by_someone_other_than_the_connected_peer_is_refused()
    {
        using var sam = PeerIdentity.Generate();
        using var lee = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var guard = new RequestGuard(_ => true, clock: clock);
        var (frame, request, signature) = Signed(lee, T0);
        await Assert.That(guard.Check(sam.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.SignerMismatch);
    }

    [Test]
    [Arguments(-6)]
    [Arguments(6)]
    public async Task A_timestamp_outside_five_minutes_is_refused(int minutes)
    {
        using var sam = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var (frame, request, signature) = Signed(sam, T0.AddMinutes(minutes));
        await Assert.That(GuardTrusting(sam, clock).Check(sam.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.StaleRequest);
    }

    [Test]
    public async Task A_replayed_request_is_refused()
    {
        using var sam = PeerIdentity.Generate();
        var clock = new ManualClock(T0);
        var guard = GuardTrusting(sam, clock);
        var (frame, request, signature) = Signed(sam, T0);
        await Assert.That(guard.Check(sam.PeerId, frame, request, signature)).IsNull();
        clock.Now = T0.AddMinutes(4);
        await Assert.That(guard.Check(sam.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.Replay);
        clock.Now = T0.AddMinutes(20);
        await Assert.That(guard.Check(sam.PeerId, frame, request, signature)!.Code).IsEqualTo(ErrorCodes.StaleRequest);
    }
}
