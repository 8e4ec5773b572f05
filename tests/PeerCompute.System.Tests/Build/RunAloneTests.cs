using System.Reflection;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Build;

/// <summary>Every released binary runs on its own: copied alone into an empty folder, it starts and answers --version.</summary>
internal sealed class RunAloneTests
{
    /// <summary>The version every project of the repository is built with (Directory.Build.props), without the source revision.</summary>
    private static readonly string ExpectedVersion =
        typeof(RunAloneTests).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    [Test]
    [MethodDataSource(typeof(Artifacts), nameof(Artifacts.EachBinary))]
    public async Task Binary_copied_alone_into_an_empty_folder_prints_its_version(string rid, string program)
    {
        using var folder = new TempFolder();
        using var home = new TempFolder();
        string binary = folder.CopyIn(Artifacts.PathOf(rid, program));

        var run = await ReleaseProcess.RunAsync(rid, binary, ["--version"],
            new Dictionary<string, string> { ["PEERCOMPUTE_HOME"] = home.Path });

        await Assert.That(run.ExitCode).IsEqualTo(0).Because(run.ToString());
        await Assert.That(run.StandardOutput.Trim()).IsEqualTo(ExpectedVersion).Because(run.ToString());
        // Nothing was unpacked or written next to the binary: it is the whole program.
        await Assert.That(Directory.GetFileSystemEntries(folder.Path).Length).IsEqualTo(1);
    }
}
