using System.Text.Json;
using PeerCompute.Core.Storage;
using PeerCompute.Runtime.Engine;

namespace PeerCompute.Runtime.State;

/// <summary>
/// Deployment records under <c>provider/deployments/&lt;id&gt;.json</c>. One file per deployment keeps every
/// write small and atomic, and a damaged file costs one record, not all of them.
/// </summary>
internal sealed class DeploymentStore
{
    private readonly string _folder;

    public DeploymentStore(string stateFolder)
    {
        StateFolder = Path.GetFullPath(stateFolder);
        _folder = Path.Combine(StateFolder, "deployments");
    }

    /// <summary>Appended to a record file that does not parse; the file stays for the operator to look at.</summary>
    public const string SetAsideSuffix = ".corrupt";

    public string StateFolder { get; }
    public string LockFile => Path.Combine(StateFolder, "runtime.lock");

    public void EnsureFolders()
    {
        foreach (string folder in new[] { StateFolder, _folder })
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(folder);
            else
                Directory.CreateDirectory(folder, PeerComputeHome.FolderMode);
        }
    }

    public async Task SaveAsync(DeploymentRecord record, CancellationToken cancellationToken)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(record, RuntimeJsonContext.Default.DeploymentRecord);
        try
        {
            // Not the caller's token: a record half-way between phases is worse than a late cancellation. On the thread
            // pool because the flush to disk blocks: the caller goes on with the engine meanwhile (serialised above,
            // so the record may change after this returns).
            string path = PathFor(record.Id);
            await Task.Run(() => AtomicFile.WriteAsync(path, json, AtomicFile.OwnerOnly, CancellationToken.None), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Said as what it is: a full disk is not the engine being down.
            throw new RuntimeException(RuntimeErrorCode.StateWriteFailed, $"could not save the provider state in {_folder}: {ex.Message}", ex);
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    public void Delete(string id)
    {
        try
        {
            File.Delete(PathFor(id));
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    /// <summary>Reads every record; a file that does not parse is set aside as <c>.corrupt</c> and named in <paramref name="problems"/>.</summary>
    public async Task<List<DeploymentRecord>> LoadAllAsync(List<string> problems, CancellationToken cancellationToken)
    {
        var records = new List<DeploymentRecord>();
        if (!Directory.Exists(_folder))
            return records;
        foreach (string file in Directory.EnumerateFiles(_folder, "*.json"))
        {
            string name = Path.GetFileName(file);
            if (name.StartsWith('.'))
                continue;
            try
            {
                byte[] bytes = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
                var record = JsonSerializer.Deserialize(bytes, RuntimeJsonContext.Default.DeploymentRecord);
                if (record is null || record.Id + ".json" != name)
                    throw new JsonException("record id does not match its file name");
                records.Add(record);
            }
            catch (JsonException ex)
            {
                string aside = file + SetAsideSuffix;
                File.Move(file, aside, overwrite: true);
                problems.Add($"{name}: unreadable ({ex.Message}); moved to {Path.GetFileName(aside)}");
            }
        }
        return records;
    }

    /// <summary>
    /// The name of the set-aside file when deployment <paramref name="id"/> had a record that could not be read; null
    /// when it had none (or it was deleted on purpose): such a deployment's container is not an orphan.
    /// </summary>
    public string? SetAsideFileOf(string? id)
    {
        if (!ContainerNaming.IsDeploymentId(id))
            return null;
        string aside = PathFor(id!) + SetAsideSuffix;
        return File.Exists(aside) ? Path.GetFileName(aside) : null;
    }

    private string PathFor(string id) => Path.Combine(_folder, id + ".json");
}
