using ConsoleAppFramework;
using PeerCompute.Cli;
using PeerCompute.Core.Protocol;
using PeerCompute.Core.Resources;
using PeerCompute.Ctl.Output;

namespace PeerCompute.Ctl.Commands;

/// <summary>Your named volumes on a provider (made by deploy --volume NAME:/path[:SIZE]).</summary>
internal sealed class VolumeCommands
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(DeploymentCommands.DefaultStatusTimeoutSeconds);

    /// <summary>List your volumes on a provider: name, size cap, bytes used, and the deployments that mount them.</summary>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print {"provider","providerName","volumes":[{"name","sizeBytes","usedBytes","usedBy","createdAt"}],"maxStorageBytes","usedStorageBytes","via"}.</param>
    [Command("ls")]
    public Task List(string? peer = null, bool json = false, CancellationToken cancellationToken = default)
        => RunAsync(VolumeRequest.List, null, peer, json, cancellationToken);

    /// <summary>Remove one of your volumes and its data, freeing its storage on the provider. Refused (volume_in_use) while a deployment mounts it.</summary>
    /// <param name="name">NAME: The volume's name.</param>
    /// <param name="peer">Provider name or PeerId (optional with one provider).</param>
    /// <param name="json">Print the volumes left, as volume ls --json does.</param>
    [Command("rm")]
    public Task Remove([Argument] string name, string? peer = null, bool json = false, CancellationToken cancellationToken = default)
        => RunAsync(VolumeRequest.Remove, name, peer, json, cancellationToken);

    private static Task RunAsync(string action, string? name, string? peer, bool json, CancellationToken cancellationToken)
        => DeploymentCommands.WithProviderAsync(peer, json, ReplyTimeout, async (session, replyToken) =>
        {
            var answer = await session.Client.VolumesAsync(action, name, replyToken).ConfigureAwait(false);
            if (json)
            {
                JsonOut.Write(new VolumesOutput(answer.Provider, session.Target.DisplayName, answer.Volumes, answer.MaxStorageBytes, answer.UsedStorageBytes, session.Via), CliJsonContext.Default.VolumesOutput);
                return;
            }
            if (action == VolumeRequest.Remove)
                Console.Out.WriteLine($"Removed volume {DeploymentCommands.Show(name)} on {session.Target.DisplayName}");
            else if (answer.Volumes.Count == 0)
                Console.Out.WriteLine($"No volumes of yours on {session.Target.DisplayName}.");
            else
                DeploymentCommands.WriteTable(["NAME", "SIZE", "USED", "STATE", "USED BY"], [.. answer.Volumes.Select(v => new[]
                {
                    DeploymentCommands.Show(v.Name),
                    Quantities.FormatBytes(v.SizeBytes),
                    v.UsedBytes is { } used ? Quantities.FormatBytes(used) : "-",
                    v.UsedBy.Count > 0 ? "in-use" : "free",
                    v.UsedBy.Count > 0 ? string.Join(", ", v.UsedBy.Select(DeploymentCommands.Show)) : "-",
                })]);
            if (action == VolumeRequest.List)
                Console.Out.WriteLine($"\n{session.Target.DisplayName}: volumes {Quantities.FormatBytes(answer.UsedStorageBytes)}/{Quantities.FormatBytes(answer.MaxStorageBytes)} of max-storage held");
        }, cancellationToken);
}
