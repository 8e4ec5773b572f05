using System.Diagnostics.CodeAnalysis;
using PeerCompute.Core.Multiformats;
using PeerCompute.Net.Protobuf;

namespace PeerCompute.Net.HolePunch;

/// <summary><c>HolePunch.Type</c> of DCUtR.</summary>
public enum HolePunchType
{
    Connect = 100,
    Sync = 300,
}

/// <summary>
/// A DCUtR message (<c>/libp2p/dcutr</c>): <c>HolePunch { Type type = 1; repeated bytes ObsAddrs = 2 }</c>, type
/// required, addresses binary multiaddrs. Framed like the relay messages (<see cref="Relay.DelimitedMessage"/>).
/// </summary>
public sealed record HolePunchMessage(HolePunchType Type, IReadOnlyList<Multiaddr> ObservedAddresses)
{
    public const string ProtocolId = "/libp2p/dcutr";

    /// <summary>The largest message body accepted (the spec's 4 KiB).</summary>
    public const int MaxSize = 4096;

    public byte[] Encode()
    {
        var output = new ProtobufWriter(128);
        output.WriteVarint(1, (ulong)Type);
        foreach (var address in ObservedAddresses)
            output.WriteBytes(2, address.ToBytes());
        return output.ToArray();
    }

    /// <summary>
    /// Decodes one message body. False, with a reason, when it is over <see cref="MaxSize"/>, malformed, or its type is
    /// missing or neither CONNECT nor SYNC. Addresses that do not decode are skipped, as are unknown fields.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, [NotNullWhen(true)] out HolePunchMessage? message, out string? error)
    {
        message = null;
        try
        {
            if (bytes.Length > MaxSize)
                throw new Libp2pProtocolException($"dcutr: message of {bytes.Length} bytes is over {MaxSize}");
            HolePunchType? type = null;
            var addresses = new List<Multiaddr>();
            var reader = new ProtobufReader(bytes);
            while (reader.TryReadField(out int field, out int wireType, out var value, out ulong number))
            {
                switch (field)
                {
                    case 1:
                        if (wireType != ProtobufReader.Varint)
                            throw new Libp2pProtocolException($"dcutr: type has wire type {wireType}, not a varint");
                        type = number switch
                        {
                            (ulong)HolePunchType.Connect => HolePunchType.Connect,
                            (ulong)HolePunchType.Sync => HolePunchType.Sync,
                            _ => throw new Libp2pProtocolException($"dcutr: unknown message type {number}"),
                        };
                        break;
                    case 2:
                        if (wireType != ProtobufReader.LengthDelimited)
                            throw new Libp2pProtocolException($"dcutr: an observed address has wire type {wireType}, not bytes");
                        if (Multiaddr.TryDecode(value, out var address, out _))
                            addresses.Add(address);
                        break;
                }
            }
            if (type is null)
                throw new Libp2pProtocolException("dcutr: the message has no type");
            message = new HolePunchMessage(type.Value, addresses);
            error = null;
            return true;
        }
        catch (Libp2pProtocolException e)
        {
            error = e.Message;
            return false;
        }
    }
}
