using PeerCompute.Core.Resources;

namespace PeerCompute.Core.Tests;

public class QuantitiesTests
{
    [Test]
    [Arguments("256MB", 256L << 20)]
    [Arguments("1GiB", 1L << 30)]
    [Arguments("512m", 512L << 20)]
    [Arguments("4GB", 4L << 30)]
    [Arguments("1.5g", 3L << 29)]
    [Arguments("100", 100L)]
    [Arguments(" 64 KiB ", 64L << 10)]
    public async Task Sizes_people_type_are_understood(string text, long bytes)
    {
        await Assert.That(Quantities.TryParseBytes(text, out long parsed)).IsTrue();
        await Assert.That(parsed).IsEqualTo(bytes);
    }

    [Test]
    [Arguments("")]
    [Arguments("MB")]
    [Arguments("-1GB")]
    [Arguments("0")]
    [Arguments("12XB")]
    [Arguments("99999999999999999999TB")]
    public async Task Nonsense_sizes_are_refused(string text)
    {
        await Assert.That(Quantities.TryParseBytes(text, out _)).IsFalse();
    }

    [Test]
    [Arguments("500m", 500)]
    [Arguments("0.5", 500)]
    [Arguments("2", 2000)]
    [Arguments("0.25", 250)]
    public async Task Cpu_amounts_are_understood(string text, int millicores)
    {
        await Assert.That(Quantities.TryParseMillicores(text, out int parsed)).IsTrue();
        await Assert.That(parsed).IsEqualTo(millicores);
    }

    [Test]
    [Arguments("0")]
    [Arguments("-1")]
    [Arguments("0.0001")]
    [Arguments("1.5m")]
    [Arguments("lots")]
    public async Task Nonsense_cpu_amounts_are_refused(string text)
    {
        await Assert.That(Quantities.TryParseMillicores(text, out _)).IsFalse();
    }

    [Test]
    public async Task Sizes_are_shown_compactly()
    {
        await Assert.That(Quantities.FormatBytes(256L << 20)).IsEqualTo("256MiB");
        await Assert.That(Quantities.FormatBytes(3L << 29)).IsEqualTo("1.5GiB");
        await Assert.That(Quantities.FormatMillicores(500)).IsEqualTo("500m");
        await Assert.That(Quantities.FormatMillicores(2000)).IsEqualTo("2");
    }
}
