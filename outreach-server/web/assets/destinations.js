// The push destinations the server knows (`DestinationKind` in outreach-core), as the
// settings page and the job page's "Send to …" name them.

export const DESTINATIONS = [
  { to: 'instantly', name: 'Instantly', campaign: 'campaign ID', hint: 'The campaign’s UUID, from its address in Instantly.' },
  { to: 'smartlead', name: 'Smartlead', campaign: 'campaign ID', hint: 'The campaign’s number, from its address in Smartlead.' },
  { to: 'lemlist', name: 'lemlist', campaign: 'campaign ID', hint: 'The campaign’s id (cam_…), from its address in lemlist.' },
  { to: 'hubspot', name: 'HubSpot', campaign: null, hint: 'Contacts are upserted by email; no campaign is needed.' },
];

export const destinationName = (to) => DESTINATIONS.find((d) => d.to === to)?.name || to;

export const needsCampaign = (to) => DESTINATIONS.find((d) => d.to === to)?.campaign !== null;
