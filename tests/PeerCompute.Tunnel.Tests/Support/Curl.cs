using System.Diagnostics;

namespace PeerCompute.Tunnel.Tests.Support;

internal sealed record CurlResult(int ExitCode, int Status, string HttpVersion, string Body, string Error, IReadOnlyDictionary<string, string> Headers);

/// <summary>Runs the real curl against the gateway (always with --resolve to loopback and the test CA).</summary>
internal static class Curl
{
    public static async Task<CurlResult> GetAsync(GatewayProcess gateway, string label, string path = "/", params string[] extra)
    {
        var args = new List<string> { "--resolve", gateway.ResolveArg(label), "--cacert", gateway.Pki.CaFile };
        args.AddRange(extra);
        args.Add(gateway.UrlFor(label).TrimEnd('/') + path);
        return await RunAsync(args).ConfigureAwait(false);
    }

    public static async Task<CurlResult> RunAsync(IEnumerable<string> args, TimeSpan? timeout = null)
    {
        string headersFile = Path.GetTempFileName();
        try
        {
            var info = new ProcessStartInfo("curl")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[] { "-sS", "--max-time", ((int)(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds).ToString(), "-D", headersFile, "-w", "\n%{http_code} %{http_version}" }.Concat(args))
                info.ArgumentList.Add(arg);
            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().ConfigureAwait(false);
            string output = await stdout.ConfigureAwait(false);
            int split = output.LastIndexOf('\n');
            string[] tail = output[(split + 1)..].Split(' ');
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (string line in File.ReadAllLines(headersFile))
            {
                int colon = line.IndexOf(':');
                if (colon > 0)
                    headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
            }
            return new CurlResult(process.ExitCode, int.TryParse(tail[0], out int status) ? status : 0, tail.Length > 1 ? tail[1] : "",
                output[..Math.Max(0, split)], await stderr.ConfigureAwait(false), headers);
        }
        finally
        {
            File.Delete(headersFile);
        }
    }
}
