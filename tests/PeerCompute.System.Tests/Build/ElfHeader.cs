using System.Buffers.Binary;

namespace PeerCompute.System.Tests.Build;

/// <summary>The few fields of an ELF file header the release checks look at (little-endian files only).</summary>
internal readonly record struct ElfHeader(bool Is64Bit, ushort Type, ushort Machine)
{
    public const ushort TypeDynamic = 3;
    public const ushort MachineX86_64 = 0x3E;
    public const ushort MachineAArch64 = 0xB7;

    public static ElfHeader Read(string path)
    {
        Span<byte> bytes = stackalloc byte[20];
        using (var file = File.OpenRead(path))
            file.ReadExactly(bytes);
        return Parse(bytes);
    }

    public static ElfHeader Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 20 || !bytes.StartsWith("\u007FELF"u8))
            throw new InvalidDataException("not an ELF file");
        if (bytes[5] != 1)
            throw new InvalidDataException("not a little-endian ELF file");
        return new ElfHeader(bytes[4] == 2, BinaryPrimitives.ReadUInt16LittleEndian(bytes[16..]), BinaryPrimitives.ReadUInt16LittleEndian(bytes[18..]));
    }
}
