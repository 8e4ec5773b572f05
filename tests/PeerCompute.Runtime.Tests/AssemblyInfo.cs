// The runtime drives a Linux Docker engine; so do its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
