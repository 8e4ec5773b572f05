using System.Runtime.InteropServices;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Build;

/// <summary>
/// Runs a released binary of any RID on this machine: natively when the architecture matches,
/// else under qemu user-mode emulation (Debian's qemu-user-static) with the target's libc as sysroot.
/// </summary>
internal static class ReleaseProcess
{
    public static Task<ProcessResult> RunAsync(string rid, string binary, IReadOnlyList<string> args,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var (fileName, prefix) = Launcher(rid, binary);
        return RunToolAsync(fileName, [.. prefix, .. args], Path.GetDirectoryName(binary)!, environment, cancellationToken);
    }

    /// <summary>Runs a host tool (ldd, readelf, ...) or a launcher in the environment the released programs are tested in.</summary>
    public static Task<ProcessResult> RunToolAsync(string fileName, IReadOnlyList<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        // The released programs read these; the test decides them, not the machine running the tests.
        var env = new Dictionary<string, string?> { ["PEERCOMPUTE_HOME"] = null, ["PEERCOMPUTE_IDENTITY_KEY"] = null, ["LC_ALL"] = "C" };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            env[name] = value;
        // A healthy run takes a second or two, even under qemu.
        return TestProcess.RunAsync(fileName, args, env, TestProcess.DefaultTimeout, workingDirectory: workingDirectory ?? Environment.CurrentDirectory, cancellationToken: cancellationToken);
    }

    private static (string FileName, string[] Prefix) Launcher(string rid, string binary)
    {
        var target = rid switch
        {
            Artifacts.LinuxX64 => Architecture.X64,
            Artifacts.LinuxArm64 => Architecture.Arm64,
            _ => throw new ArgumentOutOfRangeException(nameof(rid), rid, "unknown RID"),
        };
        if (target == RuntimeInformation.OSArchitecture)
            return (binary, []);

        var (qemu, loader, crossRoot) = target switch
        {
            Architecture.Arm64 => ("qemu-aarch64-static", "lib/ld-linux-aarch64.so.1", "/usr/aarch64-linux-gnu"),
            _ => ("qemu-x86_64-static", "lib64/ld-linux-x86-64.so.2", "/usr/x86_64-linux-gnu"),
        };
        // Either a cross sysroot (libc6-*-cross) or Debian's multiarch libc (libc6:arm64), which installs
        // the target's loader under / itself.
        string sysroot = File.Exists(Path.Combine(crossRoot, loader)) ? crossRoot
            : File.Exists(Path.Combine("/", loader)) ? "/"
            : throw new InvalidOperationException($"No {rid} C library to run {binary} under {qemu}: run `build/setup-cross.sh {rid}`.");
        return (qemu, ["-L", sysroot, binary]);
    }
}
