using System.Buffers.Binary;
using PeerCompute.Net.Dns;

namespace PeerCompute.Net.Tests.Dns;

/// <summary>Hand-built DNS packets for the codec and mDNS tests.</summary>
internal static class DnsPackets
{
    public const string JsQueryHex = "000000000001000000000000" + "045f703270" + "045f756470" + "056c6f63616c" + "00" + "000c" + "0001";

    public static byte[] Labels(string name)
    {
        var result = new List<byte>();
        foreach (string label in name.Split('.'))
        {
            result.Add((byte)label.Length);
            result.AddRange(System.Text.Encoding.ASCII.GetBytes(label));
        }
        result.Add(0);
        return [.. result];
    }

    public static byte[] Txt(string text) => [(byte)text.Length, .. System.Text.Encoding.ASCII.GetBytes(text)];

    public static void Record(List<byte> packet, DnsRecordType type, int cls, byte[] data)
    {
        var fixedPart = new byte[10];
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart, (ushort)type);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(2), (ushort)cls);
        BinaryPrimitives.WriteUInt32BigEndian(fixedPart.AsSpan(4), 120);
        BinaryPrimitives.WriteUInt16BigEndian(fixedPart.AsSpan(8), (ushort)data.Length);
        packet.AddRange(fixedPart);
        packet.AddRange(data);
    }

    public static byte[] Header(int qd = 0, int an = 0, int ns = 0, int ar = 0, int flags = 0)
    {
        var h = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(2), (ushort)flags);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)qd);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(6), (ushort)an);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(8), (ushort)ns);
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(10), (ushort)ar);
        return h;
    }
}
