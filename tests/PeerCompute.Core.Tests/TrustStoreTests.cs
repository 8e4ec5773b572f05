using PeerCompute.Core.Identity;
using PeerCompute.Core.Trust;

namespace PeerCompute.Core.Tests;

public class TrustStoreTests
{
    private const string Maya = "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq";
    private const string Sam = "12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5";

    [Test]
    public async Task Add_list_find_and_remove()
    {
        using var temp = new TempHome();
        var store = new TrustStore(temp.Home);
        await store.AddAsync(Maya, "maya", ["/ip4/127.0.0.1/tcp/9000", $"/ip6/::1/tcp/9000/p2p/{Maya}"]);
        await store.AddAsync(Sam, null, []);

        var reread = new TrustStore(temp.Home).List();
        await Assert.That(reread.Count).IsEqualTo(2);
        await Assert.That(reread[0].Addrs).IsEquivalentTo(new[] { "/ip4/127.0.0.1/tcp/9000", "/ip6/::1/tcp/9000" });
        await Assert.That(store.Find("maya")!.PeerId).IsEqualTo(Maya);
        await Assert.That(store.IsTrusted(PeerId.Parse(Sam))).IsTrue();

        await store.RemoveAsync("maya");
        await Assert.That(store.IsTrusted(PeerId.Parse(Maya))).IsFalse();
        await store.RemoveAsync(Sam);
        await Assert.That(store.List().Count).IsEqualTo(0);
    }

    [Test]
    public async Task A_relayed_address_is_kept_without_the_peers_own_id_and_dialled_with_it()
    {
        using var temp = new TempHome();
        var store = new TrustStore(temp.Home);
        string relayed = $"/ip4/203.0.113.7/tcp/4001/p2p/{Sam}/p2p-circuit";

        await store.AddAsync(Maya, "maya", [$"{relayed}/p2p/{Maya}", "/ip4/192.0.2.10/tcp/9000"]);

        await Assert.That(new TrustStore(temp.Home).Find("maya")!.Addrs).IsEquivalentTo(new[] { relayed, "/ip4/192.0.2.10/tcp/9000" });
    }

    [Test]
    public async Task The_file_is_private_to_its_owner()
    {
        using var temp = new TempHome();
        await new TrustStore(temp.Home).AddAsync(Maya, "maya", []);
        await Assert.That(File.GetUnixFileMode(temp.Home.TrustedPeersFile)).IsEqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Test]
    [Arguments("not-a-peer", null, null, "not a valid peer id")]
    [Arguments(Maya, "bad name!", null, "not a valid name")]
    [Arguments(Maya, null, "/ip4/1.2.3/tcp/1", "not a valid multiaddr")]
    [Arguments(Maya, null, "/ip4/1.2.3.4/udp/1", "not a TCP address")]
    [Arguments(Maya, null, "/ip4/1.2.3.4/tcp/1/p2p/" + Sam, "names peer")]
    [Arguments(Maya, null, "/ip4/1.2.3.4/tcp/4001/p2p/" + Sam + "/p2p-circuit/p2p/" + Sam, "names peer")]
    [Arguments(Maya, null, "/ip4/1.2.3.4/tcp/4001/p2p/" + Maya + "/p2p-circuit", "its own relay")]
    [Arguments(Maya, null, "/ip4/1.2.3.4/udp/4001/p2p/" + Sam + "/p2p-circuit", "not a relayed TCP address")]
    [Arguments(Maya, null, "/p2p-circuit/p2p/" + Maya, "not a relayed TCP address")]
    public async Task Bad_input_is_refused_and_nothing_is_written(string id, string? name, string? addr, string message)
    {
        using var temp = new TempHome();
        var store = new TrustStore(temp.Home);
        await Assert.That(async () => await store.AddAsync(id, name, addr is null ? [] : [addr])).Throws<TrustStoreException>().WithMessageContaining(message);
        await Assert.That(File.Exists(temp.Home.TrustedPeersFile)).IsFalse();
    }

    [Test]
    public async Task Edit_changes_the_name_or_the_addresses_in_place_and_keeps_the_rest()
    {
        using var temp = new TempHome();
        var store = new TrustStore(temp.Home);
        var added = await store.AddAsync(Maya, "maya", ["/ip4/192.0.2.1/tcp/9000"]);
        await store.AddAsync(Sam, "sam", []);

        var moved = await store.EditAsync("maya", null, ["/ip4/192.0.2.2/tcp/9000", $"/ip4/192.0.2.3/tcp/9000/p2p/{Maya}"]);
        await Assert.That(moved.Addrs).IsEquivalentTo(["/ip4/192.0.2.2/tcp/9000", "/ip4/192.0.2.3/tcp/9000"]);
        await Assert.That(moved.Name).IsEqualTo("maya");
        var renamed = await store.EditAsync(Maya, "mia", null);
        await Assert.That(renamed.Addrs.Count).IsEqualTo(2);
        await Assert.That(renamed.AddedAt).IsEqualTo(added.AddedAt);
        await Assert.That((await store.EditAsync("mia", "", null)).Name).IsNull();

        await Assert.That(async () => await store.EditAsync(Maya, "sam", null)).Throws<TrustStoreException>().WithMessageContaining("already used");
        await Assert.That(async () => await store.EditAsync(Maya, null, [$"/ip4/192.0.2.4/tcp/9000/p2p/{Sam}"])).Throws<TrustStoreException>().WithMessageContaining("names peer");
        await Assert.That(async () => await store.EditAsync("nobody", "x", null)).Throws<TrustStoreException>().WithMessageContaining("No trusted peer");
        await Assert.That(store.Find(Maya)!.Addrs.Count).IsEqualTo(2);
        await Assert.That(store.List().Count).IsEqualTo(2);
    }

    [Test]
    public async Task Duplicate_names_and_ids_are_refused()
    {
        using var temp = new TempHome();
        var store = new TrustStore(temp.Home);
        await store.AddAsync(Maya, "maya", []);
        await Assert.That(async () => await store.AddAsync(Sam, "maya", [])).Throws<TrustStoreException>().WithMessageContaining("already used");
        await Assert.That(async () => await store.AddAsync(Maya, "other", [])).Throws<TrustStoreException>().WithMessageContaining("already trusted");
        await Assert.That(store.List().Count).IsEqualTo(1);
    }

    [Test]
    public async Task Removing_an_unknown_peer_is_an_error()
    {
        using var temp = new TempHome();
        await Assert.That(async () => await new TrustStore(temp.Home).RemoveAsync("nobody")).Throws<TrustStoreException>();
    }

    [Test]
    public async Task A_corrupt_file_is_reported_with_its_path_and_left_untouched()
    {
        using var temp = new TempHome();
        temp.Home.EnsureExists();
        File.WriteAllText(temp.Home.TrustedPeersFile, "{ this is not json");
        var store = new TrustStore(temp.Home);
        await Assert.That(() => store.List()).Throws<TrustStoreException>().WithMessageContaining(temp.Home.TrustedPeersFile);
        await Assert.That(async () => await store.AddAsync(Maya, null, [])).Throws<TrustStoreException>().WithMessageContaining("corrupt");
        await Assert.That(File.ReadAllText(temp.Home.TrustedPeersFile)).IsEqualTo("{ this is not json");
    }

    [Test]
    public async Task Concurrent_writers_all_land()
    {
        using var temp = new TempHome();
        var ids = Enumerable.Range(0, 24).Select(_ =>
        {
            using var identity = PeerIdentity.Generate();
            return identity.PeerId.ToString();
        }).ToArray();
        // A separate store object per writer, as separate processes would have.
        await Task.WhenAll(ids.Select((id, i) => Task.Run(() => new TrustStore(temp.Home).AddAsync(id, $"peer{i}", []))));
        var listed = new TrustStore(temp.Home).List().Select(p => p.PeerId).Order().ToArray();
        await Assert.That(listed).IsEquivalentTo(ids.Order().ToArray());
        await Assert.That(Directory.GetFiles(temp.Home.Path, "*.tmp").Length).IsEqualTo(0);
    }
}
