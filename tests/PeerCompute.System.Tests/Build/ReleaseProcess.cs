using System.Diagnostics;
using System.Runtime.InteropServices;
using PeerCompute.System.Tests.Infrastructure;

namespace PeerCompute.System.Tests.Build;

internal sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError)
{
    public override string ToString() => $"exit {ExitCode}\nstdout: {StandardOutput}\nstderr: {StandardError}";
}

/// <summary>
/// Runs a released binary of any RID on this machine: natively when the architecture matches,
/// else under qemu user-mode emulation (Debian's qemu-user-static) with the target's libc as sysroot.
/// </summary>
internal static class ReleaseProcess
{
    /// <summary>Only guards against a hang; a healthy run takes a second or two, even under qemu.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(2);

    public static Task<ProcessResult> RunAsync(string rid, string binary, IReadOnlyList<string> args,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var (fileName, prefix) = Launcher(rid, binary);
        return RunToolAsync(fileName, [.. prefix, .. args], Path.GetDirectoryName(binary)!, environment, cancellationToken);
    }

    /// <summary>Runs a host tool (ldd, readelf, ...) or a launcher, capturing its output.</summary>
    public static async Task<ProcessResult> RunToolAsync(string fileName, IReadOnlyList<string> args, string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null, CancellationToken cancellationToken = default)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (string arg in args)
            start.ArgumentList.Add(arg);
        // The released programs read these; the test decides them, not the machine running the tests.
        start.Environment.Remove("PEERCOMPUTE_HOME");
        start.Environment.Remove("PEERCOMPUTE_IDENTITY_KEY");
        start.Environment["LC_ALL"] = "C";
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
                start.Environment[name] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        using var guard = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        guard.CancelAfter(HangGuard);
        var stdout = process.StandardOutput.ReadToEndAsync(guard.Token);
        var stderr = process.StandardError.ReadToEndAsync(guard.Token);
        try
        {
            await process.WaitForExitAsync(guard.Token).ConfigureAwait(false);
            return new ProcessResult(process.ExitCode, await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', args)} did not exit within {HangGuard}.");
        }
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
