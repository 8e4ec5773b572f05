using PeerCompute.Runtime.Deployments;

namespace PeerCompute.Runtime.Admission;

/// <summary>
/// Keeps the sum of admitted requests within the provider's caps. Check and reserve happen
/// under one lock, so N concurrent requests against room for K admit exactly K.
/// </summary>
internal sealed class AdmissionController
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (int Cpu, long Memory)> _held = new(StringComparer.Ordinal);
    private readonly RuntimeOptions _options;
    /// <summary>Volumes hold storage from their creation until they are removed, whatever their deployments do.</summary>
    private readonly Dictionary<string, long> _volumes = new(StringComparer.Ordinal);
    private int _cpu;
    private long _memory;
    private long _storage;

    public AdmissionController(RuntimeOptions options) => _options = options;

    /// <summary>Reserves room for a deployment or throws <see cref="RuntimeErrorCode.CapacityExceeded"/> naming the cap.</summary>
    /// <param name="newVolumes">Volumes this deployment creates (key and size): their storage is reserved in the same step, or nothing is.</param>
    public void Admit(string id, int cpuMillicores, long memoryBytes, IReadOnlyList<(string Key, long Bytes)>? newVolumes = null)
    {
        lock (_gate)
        {
            if (_held.ContainsKey(id))
                return;
            if (_held.Count + 1 > _options.MaxDeploys)
                throw Exceeded($"max-deploys: {_held.Count} of {_options.MaxDeploys} deployments already run, 0 free");
            if (_cpu + cpuMillicores > _options.MaxCpuMillicores)
                throw Exceeded($"max-cpu: requested {cpuMillicores}m, free {_options.MaxCpuMillicores - _cpu}m of {_options.MaxCpuMillicores}m");
            if (_memory + memoryBytes > _options.MaxMemoryBytes)
                throw Exceeded($"max-memory: requested {DeploymentSpecValidator.Bytes(memoryBytes)}, free {DeploymentSpecValidator.Bytes(_options.MaxMemoryBytes - _memory)} of {DeploymentSpecValidator.Bytes(_options.MaxMemoryBytes)}");
            long storage = 0;
            foreach (var (key, bytes) in newVolumes ?? [])
                storage += _volumes.ContainsKey(key) ? 0 : bytes;
            if (_storage + storage > _options.MaxStorageBytes)
                throw Exceeded($"max-storage: new volumes need {DeploymentSpecValidator.Bytes(storage)}, free {DeploymentSpecValidator.Bytes(_options.MaxStorageBytes - _storage)} of {DeploymentSpecValidator.Bytes(_options.MaxStorageBytes)}");
            Hold(id, cpuMillicores, memoryBytes);
            foreach (var (key, bytes) in newVolumes ?? [])
                HoldVolume(key, bytes);
        }
    }

    /// <summary>Reserves the storage of volumes an update of a running deployment creates (its CPU and memory are admitted on their own).</summary>
    public void AdmitVolumes(IReadOnlyList<(string Key, long Bytes)> newVolumes)
    {
        lock (_gate)
        {
            long storage = 0;
            foreach (var (key, bytes) in newVolumes)
                storage += _volumes.ContainsKey(key) ? 0 : bytes;
            if (_storage + storage > _options.MaxStorageBytes)
                throw Exceeded($"max-storage: new volumes need {DeploymentSpecValidator.Bytes(storage)}, free {DeploymentSpecValidator.Bytes(_options.MaxStorageBytes - _storage)} of {DeploymentSpecValidator.Bytes(_options.MaxStorageBytes)}");
            foreach (var (key, bytes) in newVolumes)
                HoldVolume(key, bytes);
        }
    }

    /// <summary>Counts a volume found on start without checking the cap: it exists already.</summary>
    public void RestoreVolume(string key, long bytes)
    {
        lock (_gate)
            HoldVolume(key, bytes);
    }

    public void ReleaseVolume(string key)
    {
        lock (_gate)
        {
            if (_volumes.Remove(key, out long bytes))
                _storage -= bytes;
        }
    }

    /// <summary>Counts a deployment found on start without checking caps: it already runs, and start never tears down.</summary>
    public void Restore(string id, int cpuMillicores, long memoryBytes)
    {
        lock (_gate)
        {
            if (!_held.ContainsKey(id))
                Hold(id, cpuMillicores, memoryBytes);
        }
    }

    public void Release(string id)
    {
        lock (_gate)
        {
            if (_held.Remove(id, out var held))
            {
                _cpu -= held.Cpu;
                _memory -= held.Memory;
            }
        }
    }

    public bool IsHeld(string id)
    {
        lock (_gate)
            return _held.ContainsKey(id);
    }

    public CapacityReport Report(int running)
    {
        lock (_gate)
            return new CapacityReport(_options.MaxCpuMillicores, _options.MaxMemoryBytes, _options.MaxDeploys, _cpu, _memory, _held.Count, running, _options.MaxStorageBytes, _storage);
    }

    private void Hold(string id, int cpu, long memory)
    {
        _held[id] = (cpu, memory);
        _cpu += cpu;
        _memory += memory;
    }

    private void HoldVolume(string key, long bytes)
    {
        if (_volumes.TryAdd(key, bytes))
            _storage += bytes;
    }

    private static RuntimeException Exceeded(string message) => new(RuntimeErrorCode.CapacityExceeded, message);
}
