using System.Buffers;
using System.Text;
using PeerCompute.Core.Identity;
using PeerCompute.Core.Multiformats;

namespace PeerCompute.Fuzz.Targets;

/// <summary>
/// Multiaddr in both forms: binary (TryDecode) and text (TryParse) answer true/false and never throw; an accepted
/// address survives binary → text → binary and text → binary → text unchanged, and every accessor works on it.
/// Input: byte 0 even = binary form, odd = text form (UTF-8).
/// </summary>
public sealed class MultiaddrTarget : FuzzTarget
{
    public override string Name => "multiaddr";
    public override string Description => "Multiaddr.TryDecode (binary) and TryParse (text), round trips";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var body = input[1..];
        Multiaddr? address;
        if ((input[0] & 1) == 0)
        {
            if (!Multiaddr.TryDecode(body, out address, out string? error))
            {
                Check(error is not null, "refused without a reason");
                return;
            }
            Check(address.ToBytes().AsSpan().SequenceEqual(body), "binary → binary changed the bytes");
        }
        else
        {
            string text = Encoding.UTF8.GetString(body);
            if (!Multiaddr.TryParse(text, out address, out string? error))
            {
                Check(error is not null, "refused without a reason");
                return;
            }
        }
        string canonical = address!.ToString();
        Check(Multiaddr.TryParse(canonical, out var reparsed, out string? why), $"our own text form '{canonical}' does not parse: {why}");
        Check(reparsed.Equals(address) && reparsed.ToString() == canonical, $"text round trip changed '{canonical}' to '{reparsed}'");
        Check(Multiaddr.TryDecode(address.ToBytes(), out var decoded, out why) && decoded.Equals(address), $"binary round trip failed for '{canonical}': {why}");
        _ = address.PeerId;
        bool tcp = address.TryGetTcpTarget(out _, out _);
        Check(!(tcp && address.IsRelayed), $"relayed '{canonical}' gave a TCP target");
        if (address.TryGetRelay(out var relayAddress, out var relayId, out var target))
        {
            Check(address.IsRelayed && !relayAddress.IsRelayed && relayAddress.PeerId == relayId, $"'{canonical}' split into relay '{relayAddress}' / {relayId}");
            Check(address.PeerId == (target ?? relayId), $"'{canonical}' names {address.PeerId} last, but its target is {target}");
        }
        _ = address.WithoutPeerId().ToString();
        _ = address.GetHashCode();
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        string peer = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
        yield return ("vector-binary", [0, .. Convert.FromHexString("04c000022a0601bb")]);
        yield return ("ip4-tcp-p2p-binary", [0, .. Multiaddr.Parse($"/ip4/127.0.0.1/tcp/9000/p2p/{peer}").ToBytes()]);
        yield return ("ip6-udp-binary", [0, .. Multiaddr.Parse("/ip6/::1/udp/53").ToBytes()]);
        yield return ("dns4-binary", [0, .. Multiaddr.Parse("/dns4/example.com/tcp/443").ToBytes()]);
        yield return ("text-ip4", [1, .. "/ip4/192.0.2.42/tcp/443"u8]);
        yield return ("text-ip6-p2p", [1, .. Encoding.UTF8.GetBytes($"/ip6/fe80::1/tcp/9000/p2p/{peer}")]);
        yield return ("text-dnsaddr-ipfs", [1, .. Encoding.UTF8.GetBytes($"/dnsaddr/bootstrap.example/ipfs/{peer}/")]);
        yield return ("text-bad", [1, .. "/ip4/1.2.3/tcp/99999"u8]);
        string target = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";
        yield return ("relayed-binary", [0, .. Multiaddr.Parse($"/ip4/1.2.3.4/tcp/4001/p2p/{peer}/p2p-circuit/p2p/{target}").ToBytes()]);
        yield return ("text-relayed-listen", [1, .. Encoding.UTF8.GetBytes($"/dns4/relay.example/tcp/4001/p2p/{peer}/p2p-circuit")]);
        yield return ("text-circuit-only", [1, .. "/p2p-circuit"u8]);
    }
}

/// <summary>
/// Varint, base58btc and base32: decoders answer Done/NeedMoreData/InvalidData or true/false, never throw, and what
/// they accept re-encodes to exactly the input (varints are minimal, both bases canonical).
/// Quantities (sizes and CPU amounts from config files and the command line) answer true/false and never throw.
/// Input: byte 0 = which decoder (mod 4), then the text or bytes.
/// </summary>
public sealed class EncodingsTarget : FuzzTarget
{
    public override string Name => "encodings";
    public override string Description => "Varint.TryRead (span + sequence), Base58/Base32.TryDecode, Quantities (sizes, CPU)";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var body = input[1..];
        switch (input[0] % 4)
        {
            case 0:
            {
                var status = Varint.TryRead(body, out ulong value, out int consumed);
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(body.ToArray()));
                var seqStatus = Varint.TryRead(ref reader, out ulong seqValue);
                Check(status == seqStatus && (status != OperationStatus.Done || (seqValue == value && reader.Consumed == consumed)), "span and sequence varint readers disagree");
                if (status == OperationStatus.Done)
                {
                    Check(value <= long.MaxValue && consumed is > 0 and <= Varint.MaxLength, $"varint {value} of {consumed} bytes breaks the limits");
                    Check(Varint.Encode(value).AsSpan().SequenceEqual(body[..consumed]) && Varint.GetLength(value) == consumed, "a varint is not minimal");
                }
                else
                {
                    Check(status is OperationStatus.NeedMoreData or OperationStatus.InvalidData, $"unexpected status {status}");
                }
                break;
            }
            case 1:
            {
                string text = Encoding.UTF8.GetString(body);
                if (Base58.TryDecode(text, out var bytes))
                    Check(Base58.Encode(bytes) == text, $"base58 '{text}' is not canonical");
                break;
            }
            case 3:
            {
                string text = Encoding.UTF8.GetString(body);
                if (PeerCompute.Core.Resources.Quantities.TryParseBytes(text, out long size))
                    Check(size > 0, $"size '{text}' parsed to {size}");
                if (PeerCompute.Core.Resources.Quantities.TryParseMillicores(text, out int cpu))
                    Check(cpu > 0, $"CPU '{text}' parsed to {cpu}");
                break;
            }
            default:
            {
                string text = Encoding.UTF8.GetString(body);
                if (Base32.TryDecode(text, out var bytes))
                {
                    Check(text.All(char.IsAscii), $"base32 accepted non-ASCII text '{text}'");
                    Check(Base32.EncodeLower(bytes) == text.ToLowerInvariant(), $"base32 '{text}' is not canonical");
                }
                break;
            }
        }
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("varint-1", [0, 0x01]);
        yield return ("varint-300", [0, 0xac, 0x02]);
        yield return ("varint-max", [0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
        yield return ("varint-not-minimal", [0, 0x81, 0x00]);
        yield return ("base58-peer", [1, .. "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"u8]);
        yield return ("base58-zeros", [1, .. "1112"u8]);
        yield return ("base32-cid", [2, .. "afzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"u8]);
        yield return ("base32-upper", [2, .. "MZXW6"u8]);
        yield return ("size", [3, .. "1.5GiB"u8]);
        yield return ("cpu", [3, .. "500m"u8]);
    }
}

/// <summary>
/// PeerId text forms (base58 and CID), multihashes and the key protobufs: parsers answer true/false and never throw;
/// an accepted PeerId prints to forms that parse back to it; an accepted key re-encodes to the same protobuf.
/// Input: byte 0 = which parser (mod 4), then the text or bytes.
/// </summary>
public sealed class PeerIdTarget : FuzzTarget
{
    public override string Name => "peerid";
    public override string Description => "PeerId.TryParse/TryFromMultihash, KeyProtobuf, PeerIdentity.TryFromPrivateKeyProtobuf";

    public override void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
            return;
        var body = input[1..];
        switch (input[0] % 4)
        {
            case 0:
                if (PeerId.TryParse(Encoding.UTF8.GetString(body), out var parsed))
                    CheckPeer(parsed);
                break;
            case 1:
                if (PeerId.TryFromMultihash(body, out var fromHash))
                {
                    Check(fromHash.Multihash.SequenceEqual(body), "a multihash changed on the way in");
                    CheckPeer(fromHash);
                }
                break;
            case 2:
                if (KeyProtobuf.TryDecodeEd25519PublicKey(body, out var publicKey))
                {
                    Check(publicKey.Length == KeyProtobuf.Ed25519PublicKeyLength, "a public key of the wrong length");
                    var id = PeerId.FromPublicKeyProtobuf(body);
                    Check(id.TryGetEd25519PublicKey(out var inlined) == (body.Length <= 42), "the key is not found in its own peer id");
                    CheckPeer(id);
                    _ = inlined;
                }
                break;
            default:
                if (PeerIdentity.TryFromPrivateKeyProtobuf(body, out var identity))
                {
                    using (identity)
                    {
                        var exported = identity.ExportPrivateKeyProtobuf();
                        Check(PeerIdentity.TryFromPrivateKeyProtobuf(exported, out var again) && again.PeerId == identity.PeerId, "an exported key does not load back");
                        again!.Dispose();
                        if (body.Length == KeyProtobuf.PrivateKeyProtobufLength && body[..4].SequenceEqual((byte[])[0x08, 0x01, 0x12, 0x40]))
                            Check(exported.AsSpan().SequenceEqual(body), "a canonical private key changed on export");
                    }
                }
                break;
        }
    }

    private static void CheckPeer(PeerId id)
    {
        string text = id.ToString();
        Check(PeerId.TryParse(text, out var a) && a == id, $"'{text}' does not parse back");
        string cid = id.ToCidString();
        Check(PeerId.TryParse(cid, out var b) && b == id, $"'{cid}' does not parse back");
        _ = id.TryGetEd25519PublicKey(out _);
    }

    public override IEnumerable<(string, byte[])> Seeds()
    {
        yield return ("text-base58", [0, .. "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"u8]);
        yield return ("text-cid", [0, .. "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"u8]);
        yield return ("text-other", [0, .. "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"u8]);
        yield return ("multihash-identity", [1, 0x00, 0x24, .. Convert.FromHexString("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")]);
        yield return ("multihash-sha256", [1, 0x12, 0x20, .. new byte[32]]);
        yield return ("public-key", [2, .. Convert.FromHexString("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")]);
        yield return ("public-key-swapped", [2, 0x12, 0x20, .. new byte[32], 0x08, 0x01]);
        yield return ("private-key", [3, .. Convert.FromHexString("080112407e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e")]);
        yield return ("private-seed-only", [3, 0x08, 0x01, 0x12, 0x20, .. Enumerable.Repeat((byte)1, 32)]);
    }
}
