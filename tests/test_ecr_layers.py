"""Layer uploads and downloads through the ECR API, with boto3: the same core sessions as /v2."""

import hashlib
import os

import botocore.exceptions
import pytest
import requests

from ecr import ecr_client
from oci import image_manifest, sha256


def upload_layer(ecr, repo, data, part=3000):
    upload = ecr.initiate_layer_upload(repositoryName=repo)
    assert upload["partSize"] > 0
    for first in range(0, len(data), part):
        chunk = data[first:first + part]
        r = ecr.upload_layer_part(repositoryName=repo, uploadId=upload["uploadId"], partFirstByte=first,
                                  partLastByte=first + len(chunk) - 1, layerPartBlob=chunk)
        assert r["lastByteReceived"] == first + len(chunk) - 1
    return upload["uploadId"]


def test_layer_upload_parts_complete_and_push_an_image(server):
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="layers")
    layer, config = os.urandom(10_000), b'{"architecture":"amd64","os":"linux"}'
    for blob in (layer, config):
        upload_id = upload_layer(ecr, "layers", blob)
        done = ecr.complete_layer_upload(repositoryName="layers", uploadId=upload_id, layerDigests=[sha256(blob)])
        assert done["layerDigest"] == sha256(blob)
    avail = ecr.batch_check_layer_availability(repositoryName="layers", layerDigests=[sha256(layer), sha256(b"no")])
    assert avail["layers"][0]["layerAvailability"] == "AVAILABLE" and avail["layers"][0]["layerSize"] == 10_000
    assert avail["failures"][0]["failureCode"] == "MissingLayerDigest"
    manifest = image_manifest(config, [layer]).decode()
    image = ecr.put_image(repositoryName="layers", imageManifest=manifest, imageTag="v1")["image"]
    assert image["imageId"]["imageDigest"] == sha256(manifest.encode())
    # The same bytes through the /v2 door.
    assert server.request("GET", f"/v2/layers/blobs/{sha256(layer)}").content == layer
    # A layer the repository already has is refused on completion.
    upload_id = upload_layer(ecr, "layers", layer)
    with pytest.raises(ecr.exceptions.LayerAlreadyExistsException):
        ecr.complete_layer_upload(repositoryName="layers", uploadId=upload_id, layerDigests=[sha256(layer)])


def test_layer_part_gaps_and_digest_mismatches_are_refused(server):
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="gaps")
    upload_id = ecr.initiate_layer_upload(repositoryName="gaps")["uploadId"]
    ecr.upload_layer_part(repositoryName="gaps", uploadId=upload_id, partFirstByte=0, partLastByte=2, layerPartBlob=b"abc")
    with pytest.raises(ecr.exceptions.InvalidLayerPartException):
        ecr.upload_layer_part(repositoryName="gaps", uploadId=upload_id, partFirstByte=10, partLastByte=12, layerPartBlob=b"def")
    with pytest.raises(ecr.exceptions.InvalidLayerPartException):
        ecr.upload_layer_part(repositoryName="gaps", uploadId=upload_id, partFirstByte=3, partLastByte=9, layerPartBlob=b"def")
    with pytest.raises(ecr.exceptions.InvalidLayerException):
        ecr.complete_layer_upload(repositoryName="gaps", uploadId=upload_id, layerDigests=[sha256(b"xyz")])
    # The mismatch consumed the upload, and nothing became visible.
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.complete_layer_upload(repositoryName="gaps", uploadId=upload_id, layerDigests=[sha256(b"abc")])
    assert server.request("HEAD", f"/v2/gaps/blobs/{sha256(b'abc')}").status_code == 404
    with pytest.raises(ecr.exceptions.UploadNotFoundException):
        ecr.upload_layer_part(repositoryName="gaps", uploadId="00000000-0000-4000-8000-000000000000",
                              partFirstByte=0, partLastByte=0, layerPartBlob=b"a")
    # A malformed id breaks the model's pattern before anything is looked up.
    with pytest.raises(ecr.exceptions.InvalidParameterException) as e:
        ecr.upload_layer_part(repositoryName="gaps", uploadId="not-an-upload", partFirstByte=0, partLastByte=0, layerPartBlob=b"a")
    assert "'uploadId'" in str(e.value)
    # An empty part, and completing an upload that holds nothing, are refused as ECR does.
    empty = ecr.initiate_layer_upload(repositoryName="gaps")["uploadId"]
    with pytest.raises(ecr.exceptions.InvalidLayerPartException):
        ecr.upload_layer_part(repositoryName="gaps", uploadId=empty, partFirstByte=0, partLastByte=0, layerPartBlob=b"")
    with pytest.raises(ecr.exceptions.EmptyUploadException):
        ecr.complete_layer_upload(repositoryName="gaps", uploadId=empty, layerDigests=[sha256(b"")])


def test_download_url_works_without_credentials_and_expires(server):
    ecr = ecr_client(server)
    ecr.create_repository(repositoryName="dl")
    data = os.urandom(5000)
    upload_id = upload_layer(ecr, "dl", data)
    ecr.complete_layer_upload(repositoryName="dl", uploadId=upload_id, layerDigests=[sha256(data)])
    # As on ECR, a layer no image lists is not handed out.
    with pytest.raises(ecr.exceptions.LayerInaccessibleException):
        ecr.get_download_url_for_layer(repositoryName="dl", layerDigest=sha256(data))
    config = b'{"os":"linux"}'
    ecr.complete_layer_upload(repositoryName="dl", uploadId=upload_layer(ecr, "dl", config),
                              layerDigests=[sha256(config)])
    ecr.put_image(repositoryName="dl", imageManifest=image_manifest(config, [data]).decode(), imageTag="v1")
    url = ecr.get_download_url_for_layer(repositoryName="dl", layerDigest=sha256(data))["downloadUrl"]
    r = requests.get(url)
    assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == sha256(data).split(":")[1]
    tampered = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    assert requests.get(tampered).status_code == 403
    with pytest.raises(ecr.exceptions.LayersNotFoundException):
        ecr.get_download_url_for_layer(repositoryName="dl", layerDigest=sha256(b"absent"))
    server.restart(BERTH_CLOCK_OFFSET_SECONDS=str(2 * 3600))
    r = requests.get(url)
    assert r.status_code == 403 and "expired" in r.text
